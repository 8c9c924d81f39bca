#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace chorus::testing {

// A throwaway PostgreSQL server for a test: initdb into a new folder under /tmp, the server
// listening on a unix socket in that folder only (no TCP port), fsync off. PostgreSQL refuses to
// run as root: a test running as root runs it as the user `nobody`. Destroying the object stops
// the server and removes the folder; should the test process die first, the server gets
// SIGKILL with it (PR_SET_PDEATHSIG), so nothing keeps running.
class PostgresServer {
 public:
  // The running server, or nullptr with the reason in `why` (the server binaries are absent,
  // initdb or the start failed). The binaries are looked for in $CHORUS_POSTGRES_BINDIR, then in
  // Debian's /usr/lib/postgresql/<version>/bin (the newest).
  static std::unique_ptr<PostgresServer> Start(std::string* why);
  // Whether the server binaries are there at all (when they are, a failing start is a failure,
  // not a reason to skip).
  static bool BinariesPresent();
  ~PostgresServer();

  // A new empty database of its own, as a libpq connection string.
  std::string NewDatabase();
  // Stops the server (fast shutdown: every connection is closed) and starts it again on the same
  // data; false if it does not come back.
  bool Restart();
  // Runs SQL on the database of `url` (as the server's superuser); the first value of the first
  // row, or "ERROR: ..." when it fails.
  static std::string Sql(const std::string& url, const std::string& sql);

 private:
  PostgresServer(std::string bin, std::string dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}
  std::string Url(const std::string& database) const;
  // Starts the postmaster and waits until it answers; the reason when it does not.
  bool Run(std::string* why);
  void Stop();

  const std::string bin_;
  const std::string dir_;  // data in dir_/data, the socket in dir_
  pid_t pid_ = -1;         // the postmaster
  int databases_ = 0;
};

}  // namespace chorus::testing
