/* ADD int8 for Cortex-M4: tabulated input rescaling, SMMULR output requantization
 * (tk_cm4_add.h). */
#include "add_s8_cm4.h"

#include "tk_cm4_add.h"

tk_status tk_add_s8_cm4(const tk_add_params *params, int32_t size, const int8_t *input1,
                        int32_t size2, const int8_t *input2, int8_t *output)
{
    if (size < 0 || size2 < 1 || size % size2 != 0 || params->left_shift < 0 || params->left_shift > 30 ||
        params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    tk_cm4_add_plan plan;
    tk_cm4_add_prepare(&plan, params);
    tk_cm4_add_run(&plan, size, input1, size2, input2, output);
    return TK_OK;
}
