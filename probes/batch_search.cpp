#include "probes/batch_search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <vector>

#include "reports/model/machine_info.hpp"

namespace batchtune::probes {
namespace {

class Search {
 public:
  Search(const TrialRunner& run, const SearchOptions& o) : run_(run), o_(o), m_(o.multiple_of) {
    top_ = (o.max_batch / m_) * m_;
    start_ = m_;
  }

  std::int64_t start() const { return start_; }

  // Runs (or recalls) a trial; true when it fits.
  bool fits(std::int64_t b) {
    for (const auto& t : result.trials) {
      if (t.batch_size == b) return t.outcome == TrialOutcome::fits;
    }
    ProbeTrial t = run_(b);
    t.batch_size = b;
    result.trials.push_back(t);
    if (t.outcome == TrialOutcome::error) throw TrialError(b, t.message);
    const bool ok = t.outcome == TrialOutcome::fits;
    if (ok) {
      lo = std::max(lo, b);
    } else if (!hi || b < *hi) {
      hi = b;
    }
    if (!ok && b == start_) {
      throw NothingFits("batch " + std::to_string(b) + " needs more than " + format_bytes(t.peak_bytes) +
                        "; the budget is " + format_bytes(o_.capacity_bytes) + " (" + t.message + ")");
    }
    return ok;
  }

  // The first size that trains, from `first` doubling while trials fail with
  // an error that is not memory (BatchNorm at batch 1); an OOM there means
  // nothing fits. Errors at larger sizes stay errors. True when it fits.
  bool find_start(std::int64_t first) {
    std::int64_t b = std::min(first, top_);
    for (;;) {
      start_ = b;
      try {
        return fits(b);
      } catch (const TrialError&) {
        const std::int64_t next = ((std::min(b * 2, top_)) / m_) * m_;
        if (next <= b || next > o_.min_batch_search_limit) throw;
        if (result.min_batch_reason.empty()) {
          result.min_batch_reason = "batch " + std::to_string(b) + " does not train: " + result.trials.back().message;
        }
        b = next;
      }
    }
  }

  bool done() const { return (hi && *hi - lo <= m_) || lo >= top_; }

  void bisect() {
    while (!done()) {
      const std::int64_t upper = hi ? *hi : top_ + m_;
      std::int64_t mid = ((lo + upper) / 2 / m_) * m_;
      if (mid <= lo) mid = lo + m_;
      fits(mid);
    }
  }

  void double_up(std::int64_t start) {
    std::int64_t b = std::min(start, top_);
    while (!hi && b <= top_) {
      if (!fits(b)) break;
      if (b == top_) break;
      b = std::min(b * 2, top_);
    }
  }

  const ProbeTrial* trial_at(std::int64_t b) const {
    for (const auto& t : result.trials) {
      if (t.batch_size == b) return &t;
    }
    return nullptr;
  }

  // Bytes per sample near the edge: the secant through the two largest
  // fitting trials (memory at small sizes is dominated by weights and
  // optimizer state, so a global line would underestimate it), or through the
  // largest fit and the smallest failure, whose recorded peak is a lower
  // bound of what it needed.
  std::optional<double> local_slope() const {
    std::vector<const ProbeTrial*> fits_sorted;
    for (const auto& t : result.trials) {
      if (t.outcome == TrialOutcome::fits) fits_sorted.push_back(&t);
    }
    std::sort(fits_sorted.begin(), fits_sorted.end(),
              [](const ProbeTrial* a, const ProbeTrial* b) { return a->batch_size > b->batch_size; });
    const ProbeTrial* top = fits_sorted.empty() ? nullptr : fits_sorted[0];
    const ProbeTrial* other = fits_sorted.size() > 1 ? fits_sorted[1] : (hi ? trial_at(*hi) : nullptr);
    if (!top || !other || other->batch_size == top->batch_size) return std::nullopt;
    const double slope = (double(other->peak_bytes) - double(top->peak_bytes)) /
                         (double(other->batch_size) - double(top->batch_size));
    if (!(slope > 0)) return std::nullopt;
    return slope;
  }

  void model_search() {
    // 1. Small sizes growing 32x until memory has doubled over the smallest
    //    batch's (the per-sample part dominates) or a trial fails.
    if (!find_start(m_)) return;
    const std::int64_t first = start_;
    if (first == top_) return;
    const double base_peak = double(trial_at(first)->peak_bytes);
    for (std::int64_t b = first * 32;; b *= 32) {
      const std::int64_t c = std::min(b, top_);
      if (!fits(c) || c == top_) break;
      if (double(trial_at(c)->peak_bytes) > 2.0 * base_peak) break;
    }
    // 2. A failed jump is narrowed geometrically to at most a factor of four,
    //    unless memory already grew enough at the largest fit for a secant.
    while (hi && !done() && *hi > 4 * lo && double(trial_at(lo)->peak_bytes) < 1.25 * base_peak) {
      const auto mid = static_cast<std::int64_t>(std::sqrt(double(lo) * double(*hi)) / double(m_)) * m_;
      if (mid <= lo || mid >= *hi) break;
      fits(mid);
    }
    // 3. Secant steps towards the edge: first 90% of the predicted room (a fit
    //    there puts both secant points in the linear regime near the edge),
    //    then 99.5%, then the neighbour that confirms the edge.
    double fraction = 0.90;
    for (int predictions = 0; !done(); ++predictions) {
      const auto slope = local_slope();
      if (!slope || predictions >= 6) {
        // Memory does not grow with B, or the line keeps missing: double, then bisect.
        if (!hi) double_up(lo * 2);
        return bisect();
      }
      const double room = double(o_.capacity_bytes) - double(trial_at(lo)->peak_bytes);
      if (!result.predicted_edge) {
        result.predicted_edge = lo + static_cast<std::int64_t>(std::floor(room / *slope / double(m_))) * m_;
      }
      std::int64_t b = lo + static_cast<std::int64_t>(std::floor(fraction * room / *slope / double(m_))) * m_;
      b = std::min(std::max(b, lo + m_), top_);
      if (hi && b >= *hi) b = std::max(lo + m_, ((lo + *hi) / 2 / m_) * m_);
      if (hi && b >= *hi) return bisect();
      fraction = fits(b) ? 0.995 : 0.90;
    }
  }

  ProbeResult result;
  std::int64_t lo = 0;
  std::optional<std::int64_t> hi;

 private:
  const TrialRunner& run_;
  const SearchOptions& o_;
  std::int64_t m_;
  std::int64_t top_;
  std::int64_t start_ = 0;  // the smallest size tried for fitting
};

}  // namespace

ProbeResult search_largest_batch(const TrialRunner& run_trial, const SearchOptions& o) {
  if (o.multiple_of < 1) throw std::invalid_argument("multiple_of must be at least 1");
  if (o.max_batch < o.multiple_of) throw std::invalid_argument("max_batch must be at least multiple_of");
  const auto start = std::chrono::steady_clock::now();
  Search s(run_trial, o);
  const std::int64_t m = o.multiple_of;
  if (o.strategy == ProbeStrategy::model) {
    s.model_search();
  } else {
    const std::int64_t first = m == 1 ? 2 : m;
    if (s.find_start(first)) s.double_up(s.start() * 2);
    if (o.strategy == ProbeStrategy::binsearch || s.lo == 0) s.bisect();
  }

  ProbeResult& r = s.result;
  r.strategy = o.strategy;
  r.capacity_bytes = o.capacity_bytes;
  r.multiple_of = m;
  r.max_batch = o.max_batch;
  r.margin = o.margin;
  r.largest_fitting_batch = s.lo;
  r.first_failing_batch = s.hi;
  r.capped = !s.hi && s.lo > 0;
  r.memory_model = fit_memory_model(r.trials);
  // Capped below the edge: the memory line says where the edge would be.
  if (r.capped && !r.predicted_edge && r.memory_model && r.memory_model->per_sample_bytes > 0 &&
      double(o.capacity_bytes) > r.memory_model->fixed_bytes) {
    r.predicted_edge = static_cast<std::int64_t>(
        std::min(9.0e18, (double(o.capacity_bytes) - r.memory_model->fixed_bytes) / r.memory_model->per_sample_bytes));
  }
  // The margin holds back a share of memory: the largest batch the fitted line
  // puts under (1 - margin) of the capacity, never above what was measured.
  std::int64_t safe = s.lo;
  if (r.memory_model && r.memory_model->per_sample_bytes > 0) {
    const double usable = (1.0 - o.margin) * double(o.capacity_bytes);
    const double b = (usable - r.memory_model->fixed_bytes) / r.memory_model->per_sample_bytes;
    safe = std::min<std::int64_t>(s.lo, static_cast<std::int64_t>(std::floor(b / double(m))) * m);
  } else {
    safe = static_cast<std::int64_t>(std::floor(double(s.lo) * (1.0 - o.margin) / double(m))) * m;
  }
  r.safe_max_batch = std::max<std::int64_t>(safe, std::min<std::int64_t>(s.start(), s.lo));
  // min_batch is the smallest size known to train: the search's first size
  // (2 for the peers' strategies, which never try 1; larger when smaller
  // sizes failed, and the reason says how).
  r.min_batch = s.start();
  if (!r.min_batch_reason.empty()) {
    r.min_batch_reason += "; the smallest size that trains is " + std::to_string(r.min_batch);
  }
  r.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace batchtune::probes
