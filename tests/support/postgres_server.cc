#include "tests/support/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

namespace chorus::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kPort = 5432;  // only names the socket file: there is no TCP listener

std::string BinDir() {
  if (const char* dir = std::getenv("CHORUS_POSTGRES_BINDIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  std::string best;
  int best_version = -1;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", error)) {
    const std::string name = entry.path().filename().string();
    const int version = std::atoi(name.c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb") &&
        fs::exists(entry.path() / "bin" / "postgres")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

// Who runs the server: this process's user, or `nobody` when that is root.
struct RunAs {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

RunAs Unprivileged() {
  RunAs as;
  if (::geteuid() != 0) return as;
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) return as;
  as.change = true;
  as.uid = nobody->pw_uid;
  as.gid = nobody->pw_gid;
  return as;
}

// Starts `argv` as `as`, its output to `log`; with `die_with_parent` it gets SIGKILL when this
// process ends. The child's pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const RunAs& as, const std::string& log,
            bool die_with_parent) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // The child: only async-signal-safe calls from here on.
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out >= 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
  }
  if (as.change &&
      (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0)) {
    ::_exit(126);
  }
  // After the change of user, which clears it.
  if (die_with_parent && (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)) {
    ::_exit(126);
  }
  ::execv(args[0], args.data());
  ::_exit(127);
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Tail(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return "";
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  std::fclose(file);
  return text.size() > 600 ? text.substr(text.size() - 600) : text;
}

}  // namespace

bool PostgresServer::BinariesPresent() { return !BinDir().empty(); }

std::unique_ptr<PostgresServer> PostgresServer::Start(std::string* why) {
  const std::string bin = BinDir();
  if (bin.empty()) {
    *why =
        "the PostgreSQL server binaries (initdb, postgres) are not installed: install Debian's "
        "postgresql (scripts/install-deps.sh does), or set CHORUS_POSTGRES_BINDIR";
    return nullptr;
  }
  // Short: the socket's path must fit in 107 bytes.
  char pattern[] = "/tmp/chorus-pg-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    *why = "cannot make a temporary folder";
    return nullptr;
  }
  const std::string dir = pattern;
  const RunAs as = Unprivileged();
  ::chmod(dir.c_str(), 0755);
  if (as.change && ::chown(dir.c_str(), as.uid, as.gid) != 0) {
    fs::remove_all(dir);
    *why = "cannot give the temporary folder to the user nobody";
    return nullptr;
  }
  const std::string log = dir + "/server.log";
  const int initdb = WaitExit(Spawn({bin + "/initdb", "-D", dir + "/data", "-U", "chorus",
                                     "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"},
                                    as, log, false));
  if (initdb != 0) {
    *why = "initdb failed: " + Tail(log);
    fs::remove_all(dir);
    return nullptr;
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(bin, dir));
  if (!server->Run(why)) return nullptr;  // the destructor removes the folder
  return server;
}

bool PostgresServer::Run(std::string* why) {
  const std::string log = dir_ + "/server.log";
  pid_ = Spawn({bin_ + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-p", std::to_string(kPort),
                "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                "full_page_writes=off", "-c", "max_connections=100"},
               Unprivileged(), log, true);
  if (pid_ < 0) {
    *why = "cannot start postgres";
    return false;
  }
  const std::string ping = Url("postgres");
  for (int i = 0; i < 300; ++i) {
    if (PQping(ping.c_str()) == PQPING_OK) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *why = "postgres did not start: " + Tail(log);
  return false;
}

bool PostgresServer::Restart() {
  Stop();
  std::string why;
  return Run(&why);
}

void PostgresServer::Stop() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGINT);  // fast shutdown: connections are closed
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 100 && !ended; ++i) {
    ended = ::waitpid(pid_, &status, WNOHANG) != 0;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!ended) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

PostgresServer::~PostgresServer() {
  Stop();
  std::error_code error;
  fs::remove_all(dir_, error);
}

std::string PostgresServer::Url(const std::string& database) const {
  return "host=" + dir_ + " port=" + std::to_string(kPort) + " user=chorus dbname=" + database;
}

std::string PostgresServer::NewDatabase() {
  const std::string name = "test" + std::to_string(++databases_);
  Sql(Url("postgres"), "CREATE DATABASE " + name);
  return Url(name);
}

std::string PostgresServer::Sql(const std::string& url, const std::string& sql) {
  PGconn* connection = PQconnectdb(url.c_str());
  PQsetNoticeProcessor(
      connection, [](void*, const char*) {}, nullptr);
  std::string out;
  if (PQstatus(connection) != CONNECTION_OK) {
    out = std::string("ERROR: ") + PQerrorMessage(connection);
  } else {
    PGresult* result = PQexec(connection, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      out = std::string("ERROR: ") + PQresultErrorMessage(result);
    } else if (PQntuples(result) > 0 && PQnfields(result) > 0) {
      out = PQgetvalue(result, 0, 0);
    }
    PQclear(result);
  }
  PQfinish(connection);
  return out;
}

}  // namespace chorus::testing
