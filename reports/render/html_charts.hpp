// The HTML report's charts, each an SVG plot (reports/render/svg_plot.hpp) of one
// part of a report: throughput, peak memory, validation loss against samples
// and against time, and time to the target. Each writes one <svg> and returns
// true, or writes nothing and returns false when the report has no data for
// it (the page then says so in words). The recommended batch size is the
// orange band in every chart that has a batch axis.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <vector>

#include "reports/model/report_reader.hpp"

namespace batchtune::html {

bool throughput_chart(std::ostream& out, const Report& report);
bool memory_chart(std::ostream& out, const Report& report);
enum class LossAxis { samples, seconds };
bool loss_chart(std::ostream& out, const Report& report, LossAxis along);
bool time_to_target_chart(std::ostream& out, const Report& report);
// The whole-run tune's B_crit at each branch point against the loss, its fit,
// the value at the run's target and the trunk's simple noise scale.
bool critical_batch_chart(std::ostream& out, const Report& report);
// The whole-run tune's method: the trunk's validation loss against samples,
// its fitted curve carried to the run's end, the target, and every arm drawn
// off the trunk from its branch point (one colour per batch size).
bool trunk_and_arms_chart(std::ostream& out, const Report& report);
// The whole-run tune's step clock t(B) per size, measured or interpolated.
bool step_time_chart(std::ostream& out, const Report& report);

// Shared with the page's tables: the batch size the report recommends, if
// any; the sweep's per-batch summaries sorted by batch size, rebuilt from the
// arms when a report carries arms without summaries.
std::optional<std::int64_t> recommended_batch(const Report& report);
std::vector<BatchSummary> summaries_of(const SweepResult& sweep);

}  // namespace batchtune::html
