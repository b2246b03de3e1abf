/* tinykd int8 kernels: one header per kernel, this one includes them all. */
#ifndef TINYKD_NN_H
#define TINYKD_NN_H

#include "tk_types.h"
#include "add_s8.h"
#include "avg_pool2d_s8.h"
#include "conv2d_add_s8.h"
#include "conv2d_s8.h"
#include "depthwise_conv2d_s8.h"
#include "fully_connected_s8.h"
#include "max_pool2d_s8.h"
#include "mean_s8.h"
#include "pad_s8.h"
#include "requantize_s8.h"
#include "softmax_s8.h"

#endif /* TINYKD_NN_H */
