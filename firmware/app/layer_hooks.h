/*
 * Force-included (-include) into every translation unit by `make PROFILE_LAYERS=1`: defines the
 * per-layer hooks model.c calls around each kernel so the firmware can report where the ticks
 * of an inference go. Without it the hooks default to nothing and cost nothing.
 */
#ifndef TINYKD_LAYER_HOOKS_H
#define TINYKD_LAYER_HOOKS_H

void inference_layer_begin(int layer);
void inference_layer_end(int layer);

#define TINYKD_LAYER_BEGIN(i) inference_layer_begin(i)
#define TINYKD_LAYER_END(i) inference_layer_end(i)

#endif /* TINYKD_LAYER_HOOKS_H */
