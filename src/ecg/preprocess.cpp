#include "ecg/preprocess.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "ecg/filtfilt.h"
#include "ecg/iir_design.h"
#include "ecg/leads.h"
#include "ecg/record_error.h"
#include "ecg/resample.h"

namespace agf::ecg {

double zscore_lead(double* x, int64_t n, double flat_std) {
  if (n <= 0) return 0.0;
  double mean = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double sd = std::sqrt(var / static_cast<double>(n));
  // Filtering leaves rounding noise on a flat lead; dividing that by its tiny std would invent a signal.
  if (!(sd >= flat_std)) {
    std::fill(x, x + n, 0.0);
    return sd;
  }
  for (int64_t i = 0; i < n; ++i) x[i] = (x[i] - mean) / sd;
  return sd;
}

namespace {

bool is_integer_rate(double fs) { return fs > 0 && fs == std::round(fs) && fs < 1e9; }

// A valid record this configuration cannot process (its rate too low for the band, a rate the polyphase resampler
// cannot take) is a RecordError(unsupported) naming it, raised before any work: a batch reader skips and counts it
// instead of ending the whole run. Settings that are wrong whatever the record (a bad band, a fractional target
// rate) stay plain errors, raised by the filter and resampler themselves.
void check_rate_supported(const Signal& sig, const PreprocessConfig& cfg) {
  // A band no rate could carry is the configuration's fault: say so rather than skip every record.
  AGF_CHECK(!cfg.bandpass || (cfg.low_hz > 0 && cfg.low_hz < cfg.high_hz),
            "band-pass edges {} - {} Hz need 0 < low < high", cfg.low_hz, cfg.high_hz);
  if (cfg.bandpass && !(sig.fs > 2 * cfg.high_hz))
    fail_record(RecordProblem::unsupported, sig.id,
                fmt::format("sampled at {} Hz: the {}-{} Hz band-pass needs a rate above {} Hz (fs/2 above the "
                            "upper edge)",
                            sig.fs, cfg.low_hz, cfg.high_hz, 2 * cfg.high_hz));
  if (cfg.target_fs > 0 && cfg.target_fs != sig.fs && is_integer_rate(cfg.target_fs)) {
    if (!is_integer_rate(sig.fs))
      fail_record(RecordProblem::unsupported, sig.id,
                  fmt::format("sampled at {} Hz, not a whole number of Hz: cannot resample it to {} Hz", sig.fs,
                              cfg.target_fs));
    const ResampleRatio r = resample_ratio(sig.fs, cfg.target_fs);
    if (std::max(r.up, r.down) > kMaxResampleFactor)
      fail_record(RecordProblem::unsupported, sig.id,
                  fmt::format("sampled at {} Hz: resampling to {} Hz needs the ratio {}/{}, beyond the resampler's "
                              "limit of {}",
                              sig.fs, cfg.target_fs, r.up, r.down, kMaxResampleFactor));
  }
}

// A record none of whose leads is one of the twelve would become an all-zero input, which is no ECG at all.
void require_standard_lead(const Signal& sig) {
  for (const std::string& name : sig.lead_names)
    if (standard_lead_index(name)) return;
  fail_record(RecordProblem::unsupported, sig.id,
              fmt::format("none of its leads ({}) is one of the twelve standard leads ({})",
                          fmt::join(sig.lead_names, ", "), fmt::join(kStandardLeads, ", ")));
}

// A value that is not finite (samples scaled by a gain so small that they overflow to inf, a NaN in a CODE-15 part)
// makes the filter's output NaN over its whole lead, which the z-score's flat-lead rule would then store as a silent
// row of zeros under the record's labels.
[[noreturn]] void fail_non_finite(const Signal& sig, int64_t lead) {
  fail_record(RecordProblem::non_finite, sig.id,
              fmt::format("lead {} ({}) is not finite after filtering: its input holds inf or NaN in mV (a gain too "
                          "small for its samples, or damaged data)",
                          lead, sig.lead_names[static_cast<size_t>(lead)]));
}

// Called when every row of the output is zero: says how large the input was, which tells a constant recording
// (a range of one value per lead) from a signal scaled below the flat threshold (a gain of 1e300: ~1e-297 mV).
[[noreturn]] void fail_flat(const Signal& sig, const PreprocessConfig& cfg) {
  double largest = 0.0;
  for (double v : sig.mv) largest = std::max(largest, std::abs(v));
  fail_record(RecordProblem::flat_signal, sig.id,
              fmt::format("every lead is zero after preprocessing (no standard lead varies by a std of {} mV or "
                          "more after the band-pass; the largest input value is {:g} mV): no ECG to learn from",
                          cfg.flat_std_mv, largest));
}

bool all_zero(const float* x, int64_t n) {
  return std::all_of(x, x + n, [](float v) { return v == 0.0f; });
}

}  // namespace

void filter_resample_normalise(Signal& sig, const PreprocessConfig& cfg) {
  AGF_CHECK(static_cast<int64_t>(sig.mv.size()) == sig.n_leads() * sig.n_samples,
            "signal {} holds {} values, not {} leads x {} samples", sig.id, sig.mv.size(), sig.n_leads(),
            sig.n_samples);
  check_rate_supported(sig, cfg);
  if (cfg.bandpass) {
    const TransferFunction tf = butter_bandpass(cfg.filter_order, cfg.low_hz, cfg.high_hz, sig.fs);
    const int64_t edge = cfg.padlen.value_or(filtfilt_default_padlen(tf));
    if (sig.n_samples <= edge)
      fail_record(RecordProblem::too_short, sig.id,
                  fmt::format("{} samples; the band-pass filter's padding needs more than {}", sig.n_samples, edge));
    for (int64_t l = 0; l < sig.n_leads(); ++l) filtfilt(tf, sig.lead(l), sig.n_samples, edge);
  }
  if (cfg.target_fs > 0 && cfg.target_fs != sig.fs) {
    const ResampleRatio r = resample_ratio(sig.fs, cfg.target_fs);
    const int64_t n_out = resample_poly_length(sig.n_samples, r.up, r.down);
    std::vector<double> out(static_cast<size_t>(sig.n_leads() * n_out));
    for (int64_t l = 0; l < sig.n_leads(); ++l) {
      std::vector<double> y = resample_poly(sig.lead(l), sig.n_samples, r.up, r.down);
      std::copy(y.begin(), y.end(), out.begin() + l * n_out);
    }
    sig.mv = std::move(out);
    sig.n_samples = n_out;
    sig.fs = cfg.target_fs;
  }
  // The z-score's std is NaN for a lead holding inf or NaN: the check costs nothing there; without the z-score the
  // leads are scanned.
  for (int64_t l = 0; l < sig.n_leads(); ++l) {
    double* x = sig.lead(l);
    const bool finite = cfg.zscore ? !std::isnan(zscore_lead(x, sig.n_samples, cfg.flat_std_mv))
                                   : std::all_of(x, x + sig.n_samples, [](double v) { return std::isfinite(v); });
    if (!finite) fail_non_finite(sig, l);
  }
}

void arrange_standard_leads(const Signal& sig, int64_t length, float* out) {
  AGF_CHECK(length >= 1, "output length {} is not positive", length);
  require_standard_lead(sig);
  std::fill(out, out + kStandardLeadCount * length, 0.0f);
  std::array<int64_t, kStandardLeadCount> source;
  source.fill(-1);
  for (int64_t l = 0; l < sig.n_leads(); ++l) {
    auto row = standard_lead_index(sig.lead_names[static_cast<size_t>(l)]);
    if (!row) continue;
    if (source[static_cast<size_t>(*row)] >= 0)
      fail_record(RecordProblem::bad_header, sig.id,
                  fmt::format("lead {} appears twice (rows {} and {})", kStandardLeads[static_cast<size_t>(*row)],
                              source[static_cast<size_t>(*row)], l));
    source[static_cast<size_t>(*row)] = l;
  }
  const int64_t n = std::min(length, sig.n_samples);
  for (int row = 0; row < kStandardLeadCount; ++row) {
    const int64_t l = source[static_cast<size_t>(row)];
    if (l < 0) continue;
    const double* src = sig.lead(l);
    float* dst = out + row * length;
    for (int64_t s = 0; s < n; ++s) dst[s] = static_cast<float>(src[s]);
  }
}

void preprocess_into(const Signal& sig, const PreprocessConfig& cfg, float* out) {
  require_standard_lead(sig);  // before the filtering it would waste
  Signal work = sig;
  filter_resample_normalise(work, cfg);
  arrange_standard_leads(work, cfg.length, out);
  // One flat lead among live ones is a real recording (a lead that was off); all of them flat is no ECG at all.
  if (all_zero(out, kStandardLeadCount * cfg.length)) fail_flat(sig, cfg);
}

Tensor preprocess(const Signal& sig, const PreprocessConfig& cfg) {
  Tensor t = empty({kStandardLeadCount, cfg.length}, DType::f32);
  preprocess_into(sig, cfg, t.data<float>());
  return t;
}

}  // namespace agf::ecg
