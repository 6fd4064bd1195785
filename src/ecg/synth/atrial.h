#pragma once
// Continuous atrial activity that is not a sequence of P waves: the fibrillatory f-waves of atrial fibrillation
// and the sawtooth flutter waves of atrial flutter, rendered as dipole signals.
#include "ecg/synth/rhythm.h"
#include "ecg/synth/waves.h"
#include "tensor/random.h"

namespace agf::synth {

// AF f-waves: two wandering oscillators at 4-9 Hz (dominant atrial frequency, 240-540/min), their frequency and
// amplitude drifting every ~0.2 s, with a second harmonic that makes them less sinusoidal; directed mostly
// anteriorly and inferiorly so they show best in V1 and the inferior leads. Returns the dominant rate in /min.
double add_fibrillation_waves(DipoleSignal& heart, PhiloxStream& rng);

// Flutter waves of typical (counter-clockwise, cavotricuspid isthmus) flutter: a negative sawtooth in II, III, aVF
// (slow descent, sharp fall, rise) and positive deflections in V1, one per plan.flutter_cycle_s.
void add_flutter_waves(DipoleSignal& heart, const RhythmPlan& plan, PhiloxStream& rng);

}  // namespace agf::synth
