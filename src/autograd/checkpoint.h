#pragma once
// Activation checkpointing (recomputation): a segment of the network whose intermediates are not kept for the
// backward pass. The forward runs the segment without a graph and keeps only its input; when the backward reaches
// the segment it runs the segment's forward again, this time recording, and backpropagates through that graph at
// once. The activations of one segment at a time are alive during the backward instead of those of every segment,
// for one more forward of the segment. EcgNet checkpoints each residual block and each transformer layer
// (`gradient_checkpointing`): the FO micro-batch's backward of `medium` then holds the block inputs and one block.
//
// The recomputation must give the values the first forward gave. Everything in the engine is deterministic; the one
// op with a side effect, BatchNorm in training mode, reads recomputing() and leaves its running statistics (already
// updated by the first forward) alone the second time. The gradients equal those without checkpointing bit for bit
// (tests/autograd/test_checkpoint.cpp).
#include <functional>
#include <vector>

#include "autograd/autograd.h"

namespace agf {

// x -> segment(x). `parameters` are the tensors the segment reads that may want a gradient (its module's
// parameters): without a graph being recorded, the segment's use of them is invisible to the engine otherwise.
// Without grad mode, or when neither x nor any parameter needs a gradient, this is segment(x).
Tensor checkpoint(const char* name, const std::function<Tensor(const Tensor&)>& segment, const Tensor& x,
                  const std::vector<const Tensor*>& parameters);

// True while a checkpointed segment runs its forward the second time (inside the backward pass).
bool recomputing();

}  // namespace agf
