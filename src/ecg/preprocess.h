#pragma once
// Per-record preprocessing (spec/data.md): mV -> zero-phase Butterworth band-pass at the record's own fs ->
// optional polyphase resampling -> per-lead z-score -> zero-pad or truncate to T -> float32 (12, T) in the standard
// lead order, missing leads as zero rows.
#include <cstdint>
#include <optional>

#include "ecg/signal.h"
#include "tensor/tensor.h"

namespace agf::ecg {

struct PreprocessConfig {
  bool bandpass = true;
  int filter_order = 3;
  double low_hz = 1.0;
  double high_hz = 47.0;
  std::optional<int64_t> padlen;  // filtfilt pad length; unset = scipy's default 3 * max(len(a), len(b))
  double target_fs = 0.0;         // 0 keeps the native rate (the reference keeps 500 Hz)
  bool zscore = true;
  double flat_std_mv = 1e-6;      // a lead whose std (mV, after filtering) is below this becomes zeros
  int64_t length = 6144;          // T
};

// Steps 2-4 on every lead of `sig`, in place: band-pass, resample (sig.fs and n_samples change), z-score.
// A signal too short for the filter's padding is a RecordError(too_short) naming sig.id, one holding a value that is
// not finite a RecordError(non_finite).
void filter_resample_normalise(Signal& sig, const PreprocessConfig& cfg);

// z-score of one lead with the population std (numpy's default ddof 0); a flat lead (std < flat_std) -> zeros.
// Returns the std: NaN when the lead holds a value that is not finite (it then becomes zeros too).
double zscore_lead(double* x, int64_t n, double flat_std);

// Places the leads of `sig` (already processed) into out[12 * length] in the standard order, zero rows for missing
// leads, zero-padded at the end or truncated. Lead names are matched case-insensitively; other leads are ignored;
// a standard lead present twice is a RecordError(bad_header).
void arrange_standard_leads(const Signal& sig, int64_t length, float* out);

// The whole pipeline into a caller's buffer of 12 * cfg.length floats (a row of a batch), or into a new tensor.
// A record whose output is zero in every lead (a flat recording, a signal scaled below the flat threshold) is a
// RecordError(flat_signal): it holds no ECG. Some zero leads among live ones are fine.
void preprocess_into(const Signal& sig, const PreprocessConfig& cfg, float* out);
Tensor preprocess(const Signal& sig, const PreprocessConfig& cfg);

}  // namespace agf::ecg
