#!/usr/bin/env bash
# The reference web client as chorusd serves it, without a browser: the invitation page /join
# and everything it loads weigh less than 150 kB (a patient on a slow mobile connection); the
# files served are those of web/; the page runs under the strict Content-Security-Policy (no
# inline script or style, no eval) and writes nothing to the console (no token, name or SDP can
# end up there).
source "$(dirname "$0")/lib.sh"
web="$(cd "$(dirname "$0")/../../web" && pwd)"

start_chorusd chorus all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --web_listen=127.0.0.1:0 --media_port_min=46890 --media_port_max=46898 --webrtc_port=46899 \
  --media_workers=1 --video_workers=1
addr=$(grep -m1 '"event":"listening"' "$E2E_WORK/chorus.log" | sed -E 's/.*"web":"([^"]+)".*/\1/')
[[ -n $addr ]] || fail "no web address in the listening line"

mkdir -p "$E2E_WORK/served"
curl -sf -D "$E2E_WORK/headers.txt" -o "$E2E_WORK/served/index.html" "http://$addr/join" ||
  fail "GET /join"
grep -qi "^content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'" \
  "$E2E_WORK/headers.txt" || fail "/join has no strict CSP: $(cat "$E2E_WORK/headers.txt")"

# Everything the page loads: its scripts and style sheets, and what the style sheets load.
/usr/bin/python3 - "$E2E_WORK/served" "http://$addr" "$web" <<'PY' || fail "the page checks failed"
import re, sys, urllib.request
from html.parser import HTMLParser
from pathlib import Path
served, base, web = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
problems = []

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.assets, self.inline_script, self.style_blocks, self.style_attributes = [], 0, 0, 0
        self.in_script = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "style" in a: self.style_attributes += 1
        if any(name.startswith("on") for name in a): self.style_attributes += 1
        if tag == "script":
            self.in_script = True
            if a.get("src"): self.assets.append(a["src"])
        if tag == "style": self.style_blocks += 1
        if tag == "link" and "stylesheet" in (a.get("rel") or "") and a.get("href"):
            self.assets.append(a["href"])
        if tag in ("img", "source", "video", "audio") and a.get("src"): self.assets.append(a["src"])
    def handle_endtag(self, tag):
        if tag == "script": self.in_script = False
    def handle_data(self, data):
        if self.in_script and data.strip(): self.inline_script += 1

index = (served / "index.html").read_bytes()
page = Page()
page.feed(index.decode())
if page.inline_script or page.style_blocks or page.style_attributes:
    problems.append("index.html has inline script, style or event handlers")
total = len(index)
sizes = {"index.html": len(index)}
queue = list(page.assets)
while queue:
    name = queue.pop(0).lstrip("/")
    if name in sizes: continue
    data = urllib.request.urlopen(f"{base}/{name}").read()
    sizes[name] = len(data)
    total += len(data)
    if name.endswith(".css"):
        for url in re.findall(rb"url\(([^)]+)\)", data):
            url = url.decode().strip("'\" ")
            if not url.startswith("data:"):
                queue.append(url)
    if name.endswith(".js"):
        text = data.decode()
        if re.search(r"\beval\s*\(|new\s+Function\s*\(|setTimeout\s*\(\s*['\"]", text):
            problems.append(f"{name} evaluates strings as code")
        if re.search(r"\bconsole\s*\.", text):
            problems.append(f"{name} writes to the console")
        if re.search(r"\.innerHTML\s*=|insertAdjacentHTML|document\.write", text):
            problems.append(f"{name} writes HTML from strings")
        if re.search(r"setAttribute\(\s*['\"]style['\"]|\.style\s*=|cssText", text):
            problems.append(f"{name} sets inline style attributes")
    if (web / name).read_bytes() != data:
        problems.append(f"/{name} differs from web/{name} (chorusd built from older files?)")
for name, size in sizes.items():
    print(f"  {name}: {size} bytes")
print(f"  total: {total} bytes")
if total >= 150_000:
    problems.append(f"the page weighs {total} bytes, more than 150 kB")
for problem in problems:
    print("FAIL:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
pass "/join and all it loads: under 150 kB, the files of web/, no inline script or style, no eval, no console"

# Every file of web/ is served at /<name>, with its type; nothing else is.
for file in "$web"/*; do
  name=$(basename "$file")
  type=$(curl -sf -o /dev/null -w '%{content_type}' "http://$addr/$name") || fail "GET /$name"
  case $name in
    *.js) [[ $type == text/javascript* ]] || fail "/$name served as $type" ;;
    *.css) [[ $type == text/css* ]] || fail "/$name served as $type" ;;
    *.html) [[ $type == text/html* ]] || fail "/$name served as $type" ;;
  esac
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$addr/web_harness.js") == 404 ]] ||
  fail "a file that is not in web/ is served"
pass "every file of web/ is served with its content type, and nothing else"
