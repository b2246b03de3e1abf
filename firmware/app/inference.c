#include "inference.h"

#include "board.h"
#include "model.h"

#ifdef TINYKD_PROFILE_LAYERS
static uint32_t layer_ticks[TINYKD_NUM_LAYERS];
static uint32_t layer_start;

void inference_layer_begin(int layer)
{
    (void)layer;
    layer_start = board_ticks();
}

void inference_layer_end(int layer)
{
    uint32_t now = board_ticks();
    if (layer >= 0 && layer < TINYKD_NUM_LAYERS) {
        layer_ticks[layer] = now - layer_start;
    }
}

uint32_t inference_profiled_layers(void) { return TINYKD_NUM_LAYERS; }

uint32_t inference_layer_ticks(uint32_t i) { return i < TINYKD_NUM_LAYERS ? layer_ticks[i] : 0u; }
#else
uint32_t inference_profiled_layers(void) { return 0; }

uint32_t inference_layer_ticks(uint32_t i)
{
    (void)i;
    return 0;
}
#endif

static int model_check;

int inference_boot(void)
{
    model_check = tinykd_model_check();
    return model_check;
}

int inference_model_check(void) { return model_check; }

int inference_run(const int8_t *input, int8_t *output, uint32_t *ticks)
{
    *ticks = 0;
    if (model_check != 0) {
        return INFERENCE_REFUSED;
    }
    board_measure_begin();
    uint32_t start = board_ticks();
    int status = tinykd_model_invoke(input, output);
    *ticks = board_ticks() - start;
    return status;
}
