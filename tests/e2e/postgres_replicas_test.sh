#!/usr/bin/env bash
# Two controller replicas on one PostgreSQL database keep the controller's word (issue: the
# controller keeps its word): two `chorusd controller` processes with --postgres_url_file on one
# throwaway database, and one `chorusd media-node`. A single-use invite used through both at the
# same moment lets exactly one participant in (ten times over); wrong PINs split between the
# replicas lock the address out after 5 and the room after 20, on both; a watcher on one replica
# sees a join made through the other; a watcher resumes through either replica and after one
# restarted; one replica does the background work; a database of a newer schema makes a
# controller refuse to start, and no log holds the connection string's password.
# Ports 47300-47399.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/postgres_lib.sh"

start_postgres 47300
url_file="$E2E_WORK/postgres-url"
new_database chorus "$url_file"
pass "a throwaway PostgreSQL server on $PG_DIR"

start_chorusd node media-node --dev --grpc_listen=127.0.0.1:47301 --http_listen=127.0.0.1:0 \
  --media_port_min=47320 --media_port_max=47369 --media_workers=1
node=$GRPC_ADDR
controller() {
  local name=$1 port=$2
  start_chorusd "$name" controller --dev --grpc_listen=127.0.0.1:"$port" \
    --http_listen=127.0.0.1:0 --media_nodes="$node" --postgres_url_file="$url_file"
}
controller first 47302
first_pid=$CHORUSD_PID
controller second 47303
second_pid=$CHORUSD_PID
ctl1() { "$CHORUSCTL" --insecure --address=127.0.0.1:47302 "$@"; }
ctl2() { "$CHORUSCTL" --insecure --address=127.0.0.1:47303 "$@"; }
key=$(new_key)
pass "two controllers on the database, one media node"

# 1. A single-use invite used through both replicas at the same moment: exactly one gets in.
ctl1 room create meeting --room_id=race-room >/dev/null || fail "room create race-room"
for round in $(seq 10); do
  token=$(field "$(ctl1 --json invite create race-room guest)" token)
  [[ -n $token ]] || fail "no invite token"
  ctl1 join race-room --invite_token="$token" --receive=127.0.0.1:47380 --key="$key" \
    >"$E2E_WORK/race-$round-1.txt" 2>&1 &
  one=$!
  ctl2 join race-room --invite_token="$token" --receive=127.0.0.1:47381 --key="$key" \
    >"$E2E_WORK/race-$round-2.txt" 2>&1 &
  two=$!
  one_status=0
  two_status=0
  wait "$one" || one_status=$?
  wait "$two" || two_status=$?
  if [[ $one_status -eq 0 && $two_status -eq 0 ]]; then
    fail "round $round: the invite let two participants in"
  fi
  [[ $one_status -eq 0 || $two_status -eq 0 ]] ||
    fail "round $round: nobody got in: $(cat "$E2E_WORK/race-$round-1.txt" "$E2E_WORK/race-$round-2.txt")"
  loser=$E2E_WORK/race-$round-$([[ $one_status -eq 0 ]] && echo 2 || echo 1).txt
  grep -q PERMISSION_DENIED "$loser" || fail "round $round: the loser should be PERMISSION_DENIED: $(cat "$loser")"
done
for ctl in ctl1 ctl2; do
  joined=$($ctl participants race-room | grep -c participants/) || true
  [[ $joined -eq 10 ]] || fail "$ctl lists $joined participants in race-room, not 10"
done
pass "an invite used through both replicas at once let exactly one in, 10 rounds out of 10"

# 2. Wrong PINs split between the replicas: the address is locked out after 5, the room after 20.
ctl1 room create meeting --room_id=pin-room --access=shared-pin --guest_pin=97531 >/dev/null ||
  fail "room create pin-room"
pin_join() {  # pin_join CTL ADDRESS PIN: prints the status code of the refusal, or OK
  local out
  if out=$($1 join pin-room --pin="$3" --client_address="$2" --receive=127.0.0.1:47382 \
    --key="$key" 2>&1); then
    echo OK
  else
    grep -oE 'PERMISSION_DENIED|RESOURCE_EXHAUSTED|[A-Z_]{6,}' <<<"$out" | head -1
  fi
}
for i in 1 2 3 4 5; do
  ctl=$([[ $((i % 2)) -eq 1 ]] && echo ctl1 || echo ctl2)
  [[ $(pin_join "$ctl" 198.51.100.7 11111) == PERMISSION_DENIED ]] || fail "wrong PIN $i"
done
for ctl in ctl1 ctl2; do
  [[ $(pin_join "$ctl" 198.51.100.7 97531) == RESOURCE_EXHAUSTED ]] ||
    fail "$ctl should refuse the address after 5 wrong PINs split between the replicas"
done
[[ $(pin_join ctl2 203.0.113.20 97531) == OK ]] || fail "another address should still get in"
pass "5 wrong PINs from one address, split between the replicas, lock it out on both"
for i in $(seq 15); do
  ctl=$([[ $((i % 2)) -eq 1 ]] && echo ctl2 || echo ctl1)
  [[ $(pin_join "$ctl" "192.0.2.$i" 22222) == PERMISSION_DENIED ]] || fail "spread wrong PIN $i"
done
for ctl in ctl1 ctl2; do
  [[ $(pin_join "$ctl" 203.0.113.21 97531) == RESOURCE_EXHAUSTED ]] ||
    fail "$ctl should refuse every PIN join after 20 wrong PINs in all"
done
pass "20 wrong PINs in all, split between the replicas, lock the room's PIN joins on both"

# 3. A watcher on the first replica sees a join made through the second.
ctl2 room create meeting --room_id=watch-room >/dev/null || fail "room create watch-room"
ctl2 room lock watch-room >/dev/null || fail "lock"
ctl2 room unlock watch-room >/dev/null || fail "unlock"
ctl1 watch watch-room --resume_after=1 >"$E2E_WORK/watch-first.txt" 2>&1 &
E2E_PIDS+=($!)
# Resumed after event 1: the unlock (event 2) comes first, so the watcher is in.
for _ in $(seq 50); do grep -q room_unlocked "$E2E_WORK/watch-first.txt" && break; sleep 0.1; done
grep -q room_unlocked "$E2E_WORK/watch-first.txt" || fail "the watcher did not resume"
token=$(field "$(ctl2 --json invite create watch-room guest --pseudonym=Watched)" token)
joined=$(ctl2 --json join watch-room --invite_token="$token" --receive=127.0.0.1:47383 \
  --key="$key") || fail "join through the second"
for _ in $(seq 50); do grep -q participant_joined "$E2E_WORK/watch-first.txt" && break; sleep 0.1; done
grep -q '"sequence":"3".*"participant_joined"' "$E2E_WORK/watch-first.txt" ||
  fail "the first replica's watcher did not see the join: $(cat "$E2E_WORK/watch-first.txt")"
pass "a watcher on the first replica saw the join made through the second (event 3)"

# The participant's session, joined through the second replica, is taken up again through the
# first (a browser's signalling reaching another replica); the token it used is then spent on
# both, the new one works on the second.
watched=$(field "$joined" name || true)
first_token=$(field "$joined" session_token || true)
[[ -n $watched && ${#first_token} -eq 43 ]] || fail "no participant or session token: $joined"
out=$(ctl1 resume -- "$watched" "$first_token") || fail "resume through the first replica: $out"
second_token=$(sed -nE 's/.* session_token=([^ ]+)$/\1/p' <<<"$out")
[[ ${#second_token} -eq 43 && $second_token != "$first_token" ]] || fail "no new token: $out"
for ctl in ctl1 ctl2; do
  if $ctl resume -- "$watched" "$first_token" >"$E2E_WORK/spent.txt" 2>&1; then
    fail "$ctl took a spent session token"
  fi
  grep -q PERMISSION_DENIED "$E2E_WORK/spent.txt" || fail "$ctl: $(cat "$E2E_WORK/spent.txt")"
done
ctl2 resume -- "$watched" "$second_token" >/dev/null || fail "the new token on the second replica"
for secret in "$first_token" "$second_token"; do
  if grep -qF -- "$secret" "$E2E_WORK"/*.log; then fail "a session token reached a server log"; fi
done
pass "a session joined through one replica resumes through the other; a spent token works on neither"

# 4. resume_after_sequence through the other replica, and after a restart of a replica.
resumed() {  # resumed CTL FILE: a watcher resumed after event 2, until event 3 shows
  $1 watch watch-room --resume_after=2 >"$2" 2>&1 &
  local pid=$!
  E2E_PIDS+=("$pid")
  for _ in $(seq 50); do grep -q '"sequence":"3"' "$2" && break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  grep -q '"sequence":"3".*"participant_joined"' "$2" || fail "no event 3 when resuming: $(cat "$2")"
  grep -q '"sequence":"2"' "$2" && fail "resuming after event 2 gave event 2 again"
  return 0
}
resumed ctl2 "$E2E_WORK/resume-second.txt"
resumed ctl1 "$E2E_WORK/resume-first.txt"
pass "a watcher resumes after event 2 through either replica"
kill -TERM "$second_pid"
wait_exit "$second_pid" 40
[[ $EXIT_STATUS -eq 0 ]] || fail "the second controller exited with $EXIT_STATUS after SIGTERM"
controller second-again 47303
resumed ctl2 "$E2E_WORK/resume-restarted.txt"
joined=$(ctl2 participants watch-room | grep -c participants/) || true
[[ $joined -eq 1 ]] || fail "the restarted replica lists $joined participants in watch-room, not 1"
pass "after the second replica's restart a watcher resumes through it; the participant is still in"

# 5. One replica does the background work (the database's advisory lock).
grep -q '"event":"store_leader"' "$E2E_WORK/first.log" || fail "the first replica should lead"
for log in second second-again; do
  grep -q '"event":"store_leader"' "$E2E_WORK/$log.log" && fail "$log took the lead as well"
done
pass "the background work runs on the first replica only"

# 6. The password of the connection string reaches no log and no refusal.
for log in "$E2E_WORK"/*.log "$E2E_WORK"/*.out; do
  grep -q not-in-any-log "$log" && fail "$log holds the connection string's password"
done
printf 'postgresql://chorus:not-in-any-log@127.0.0.1:47399/chorus?connect_timeout=2\n' \
  >"$E2E_WORK/unreachable-url"
expect_refusal "cannot connect" controller --dev --grpc_listen=127.0.0.1:47304 \
  --http_listen=127.0.0.1:0 --media_nodes="$node" --postgres_url_file="$E2E_WORK/unreachable-url"
grep -q not-in-any-log "$E2E_WORK/refusal.txt" && fail "the refusal repeats the password"
pass "no log holds the password; an unreachable database is refused without it"

# 7. A database of a newer schema: a controller refuses to start, saying so.
psql -d chorus -c "INSERT INTO chorus_schema_version VALUES (99)" || fail "newer schema"
expect_refusal "newer than this chorusd knows" controller --dev --grpc_listen=127.0.0.1:47305 \
  --http_listen=127.0.0.1:0 --media_nodes="$node" --postgres_url_file="$url_file"
