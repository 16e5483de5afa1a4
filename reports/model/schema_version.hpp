// The report format's version: the one number the writer (tuner/report_builder)
// puts first in every report and the reader (report_reader) checks first.
// docs/REPORT_FORMAT.md ("Versioning") says what bumps it; the reader upgrades
// the versions from kOldestReadableSchemaVersion on in memory.
#pragma once

namespace batchtune {

// 2: arms' `step_seconds` renamed `compute_seconds`; `target` is the
// interpolated crossing (numbers, not the first evaluation at the target);
// `recommendation.status`, and a null `batch_size` when there is no answer.
inline constexpr int kReportSchemaVersion = 2;
inline constexpr int kOldestReadableSchemaVersion = 1;

}  // namespace batchtune
