// The recommendation handed to a training script: `batchtune show FILE
// --format env|json|args`. The four values a training loop needs (the
// effective batch, the micro-batch that goes through the model at once, the
// gradient accumulation steps, the learning rate), in the shape a shell, a
// JSON reader or an argument parser takes. README.md, "Hand-off to
// training", shows the lines for a plain PyTorch loop, Lightning, Hugging
// Face Trainer and Accelerate.
#pragma once

#include <string>
#include <vector>

#include "reports/model/report_reader.hpp"

namespace batchtune {

enum class HandoffFormat { env, json, args };

// "env" | "json" | "args"; UsageError otherwise.
HandoffFormat parse_handoff_format(const std::string& text);

struct HandoffValue {
  std::string name;   // batch_size, micro_batch_size, accumulation_steps, learning_rate
  std::string value;  // as text: integers exactly, the rate in %.6g
};

// The values, in that order. Throws NoRecommendationError (exit 1) with the
// reason when the report recommends no batch size: a script must never train
// with an empty or "null" value.
std::vector<HandoffValue> handoff_values(const Report& report);

// env:  BATCHTUNE_BATCH_SIZE=256 ... one per line (for `export $(...)` or $GITHUB_ENV)
// json: {"batch_size": 256, ...} on one line
// args: --batch-size 256 --micro-batch-size 128 --accumulation-steps 2 --learning-rate 0.04
std::string render_handoff(const Report& report, HandoffFormat format);

}  // namespace batchtune
