/* tinykd int8 kernels, Cortex-M4 DSP variants (same signatures as the reference kernels;
 * they compile everywhere, with exact C stand-ins for the DSP instructions off-target). */
#ifndef TINYKD_NN_CM4_H
#define TINYKD_NN_CM4_H

#include "add_s8_cm4.h"
#include "conv2d_1x1_s8_cm4.h"
#include "conv2d_add_s8_cm4.h"
#include "conv2d_3x3_s8_cm4.h"
#include "conv2d_pack_s8_cm4.h"
#include "conv2d_s8_cm4.h"
#include "depthwise_conv2d_s8_cm4.h"
#include "fully_connected_s8_cm4.h"
#include "max_pool2d_s8_cm4.h"

#endif /* TINYKD_NN_CM4_H */
