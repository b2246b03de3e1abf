/* FULLY_CONNECTED int8 for Cortex-M4: the input row expanded once to int16 pairs (offset
 * added), weights expanded on the fly, two units per pass over the row. */
#include "fully_connected_s8_cm4.h"

#include "tk_cm4_requant.h"

int32_t tk_fully_connected_s8_cm4_scratch_size(int32_t rows, int32_t depth, int32_t units)
{
    (void)rows;
    return units * (int32_t)sizeof(tk_cm4_rq) + ((depth + 3) & ~3) * 2;
}

tk_status tk_fully_connected_s8_cm4(const tk_fc_params *params, const tk_channel_quant *quant,
                                    int32_t rows, int32_t depth, int32_t units,
                                    const int8_t *input, const int8_t *filter, const int32_t *bias,
                                    int8_t *output, void *scratch)
{
    if (rows < 1 || depth < 1 || units < 1 || params->act_min > params->act_max ||
        params->filter_offset != 0 || scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return TK_ERR_ARG;
    }
    tk_cm4_rq *rq = (tk_cm4_rq *)scratch;
    int32_t *xbuf = (int32_t *)(void *)((uint8_t *)scratch + units * (int32_t)sizeof(tk_cm4_rq));
    const tk_cm4_out os = {rq, params->output_offset, params->act_min, params->act_max,
                           tk_cm4_build_rq(rq, units, bias, quant, depth, params->output_offset,
                                           params->act_min, params->act_max)};
    const int32_t off = params->input_offset;
    const int32_t off2 = tk_cm4_offset2(off);
    const int32_t groups = depth / 4;
    const int32_t tail = depth - 4 * groups;

    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *in_row = input + r * depth;
        int8_t *out = output + r * units;
        for (int32_t g = 0; g < groups; ++g) {
            const int32_t x = tk_read_s8x4(in_row + 4 * g);
            xbuf[2 * g] = tk_sxtab16(off2, x);
            xbuf[2 * g + 1] = tk_sxtab16_ror8(off2, x);
        }
        int32_t u = 0;
        for (; u + 1 < units; u += 2) {
            const int8_t *f0 = filter + u * depth;
            const int8_t *f1 = f0 + depth;
            const int32_t *x = xbuf;
            int32_t a0 = rq[u].bias, a1 = rq[u + 1].bias;
            for (int32_t g = 0; g < groups; ++g) {
                int32_t xe, xo;
                tk_ld2_ia(&x, &xe, &xo);
                const int32_t w0 = tk_read_s8x4(f0 + 4 * g), w1 = tk_read_s8x4(f1 + 4 * g);
                a0 = tk_smlad(tk_sxtb16(w0), xe, a0);
                a0 = tk_smlad(tk_sxtb16_ror8(w0), xo, a0);
                a1 = tk_smlad(tk_sxtb16(w1), xe, a1);
                a1 = tk_smlad(tk_sxtb16_ror8(w1), xo, a1);
            }
            for (int32_t d = depth - tail; d < depth; ++d) {
                const int32_t xv = (int32_t)in_row[d] + off;
                a0 += (int32_t)f0[d] * xv;
                a1 += (int32_t)f1[d] * xv;
            }
            out[u] = (int8_t)tk_cm4_requant(&os, &rq[u], a0);
            out[u + 1] = (int8_t)tk_cm4_requant(&os, &rq[u + 1], a1);
        }
        if (u < units) {
            const int8_t *f0 = filter + u * depth;
            int32_t a0 = rq[u].bias;
            for (int32_t g = 0; g < groups; ++g) {
                const int32_t w0 = tk_read_s8x4(f0 + 4 * g);
                a0 = tk_smlad(tk_sxtb16(w0), xbuf[2 * g], a0);
                a0 = tk_smlad(tk_sxtb16_ror8(w0), xbuf[2 * g + 1], a0);
            }
            for (int32_t d = depth - tail; d < depth; ++d) {
                a0 += (int32_t)f0[d] * ((int32_t)in_row[d] + off);
            }
            out[u] = (int8_t)tk_cm4_requant(&os, &rq[u], a0);
        }
    }
    return TK_OK;
}
