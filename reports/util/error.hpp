// The errors batchtune reports to its user, and the exit codes they map to.
// Recoverable outcomes (an OOM while probing, a diverged arm) are data, not
// errors; these are the failures that end a command. They are thrown where
// detected and caught once, in main, which prints `batchtune: error: ...`.
#pragma once

#include <stdexcept>
#include <string>

namespace batchtune {

// Documented in README.md ("Exit codes"). Kept below 100: CLI11 uses 100-127.
enum class ExitCode : int {
  ok = 0,
  check_failed = 1,        // `batchtune check`: the report does not hold
  no_recommendation = 1,   // `show --get recommendation.batch_size` of a report that recommends none
  usage = 2,               // unknown subcommand or option, malformed value
  bad_input = 3,           // a file or dataset that is missing, truncated or wrong
  device_unavailable = 4,  // e.g. --device cuda on a build or machine without CUDA
  does_not_fit = 5,        // not even batch 1 fits in the memory budget
  output_error = 6,        // an output path that cannot be written
  interrupted = 7,         // stopped by a signal; what was measured was written
  runtime_failure = 8,     // training failed for a reason that is not the user's input
  model_failed = 9,        // the sweep stopped: the user's model raised an error in an arm;
                           // the report holds the arms before it, marked incomplete
  rank_failed = 10,        // data-parallel: a rank died, never arrived or stopped answering
                           // within --dist-timeout; rank 0's report is marked incomplete
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

struct UsageError : Error {
  explicit UsageError(const std::string& m) : Error(ExitCode::usage, m) {}
};
struct InputError : Error {
  explicit InputError(const std::string& m) : Error(ExitCode::bad_input, m) {}
};
struct DeviceError : Error {
  explicit DeviceError(const std::string& m) : Error(ExitCode::device_unavailable, m) {}
};
struct DoesNotFitError : Error {
  explicit DoesNotFitError(const std::string& m) : Error(ExitCode::does_not_fit, m) {}
};
struct OutputError : Error {
  explicit OutputError(const std::string& m) : Error(ExitCode::output_error, m) {}
};
struct NoRecommendationError : Error {
  explicit NoRecommendationError(const std::string& m) : Error(ExitCode::no_recommendation, m) {}
};
struct RuntimeFailure : Error {
  explicit RuntimeFailure(const std::string& m) : Error(ExitCode::runtime_failure, m) {}
};

inline int to_int(ExitCode c) { return static_cast<int>(c); }

}  // namespace batchtune
