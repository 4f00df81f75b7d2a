// Starts a real Stagelink binary for the end-to-end tests and reads its startup lines.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace stagelink::testing {

class ChildProcess {
 public:
  /// Starts `argv[0]` with stdout piped to us (stderr is inherited). nullptr on failure.
  static std::unique_ptr<ChildProcess> spawn(const std::vector<std::string>& argv,
                                             const std::string& label);
  ~ChildProcess();

  /// The next stdout line, without its newline; nullopt on timeout or EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// From now on, copies stdout to our stderr (prefixed) so the child never blocks on a full pipe.
  void drain_in_background();
  /// SIGTERM, then SIGKILL after `grace`. Returns the exit status (or -1).
  int terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int out_fd, std::string label)
      : pid_(pid), out_fd_(out_fd), label_(std::move(label)) {}

  pid_t pid_;
  int out_fd_;
  std::string label_;
  std::string buffer_;
  bool exited_ = false;
  int status_ = -1;
  std::thread drain_;
};

/// Path of a binary: `$env_var` if set, else `<CARGO_TARGET_DIR or repo/target>/debug/<rel>`.
std::string locate_binary(const char* env_var, const std::string& repo_root, const std::string& rel);

/// True when the file exists and is executable.
bool is_executable(const std::string& path);

}  // namespace stagelink::testing
