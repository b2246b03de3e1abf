/* See cm4_check.h. Random shapes around the accept rules of each variant (odd channel and
 * pixel counts, C_in not a multiple of 4, padding, stride, dilation, channel chunking),
 * random quantization including biases large enough to force the exact fallback path of
 * the requantization. Static buffers only: the same code runs bare metal. */
#include "cm4_check.h"

#include <string.h>

#include "tinykd_nn.h"
#include "tinykd_nn_cm4.h"

#define MAX_ACT 8192
#define MAX_FILTER 16384
#define MAX_CH 48
#define MAX_SCRATCH 12288

static int8_t g_in[MAX_ACT];
static int8_t g_filter[MAX_FILTER];
static int32_t g_packed[MAX_FILTER / 2 + 9 * MAX_CH];
static int8_t g_ref[MAX_ACT];
static int8_t g_out[MAX_ACT];
static int8_t g_short[MAX_ACT];  /* the residual ADD's other operand */
static int32_t g_bias[MAX_CH];
static int32_t g_mult[MAX_CH];
static int32_t g_shift[MAX_CH];
static _Alignas(16) uint8_t g_scratch[MAX_SCRATCH];

static uint32_t g_rng;
static int32_t g_compared, g_bad;
static cm4_emit_fn g_emit;

static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}

static int32_t range(int32_t lo, int32_t hi) /* inclusive */
{
    return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static void fill_s8(int8_t *p, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) {
        p[i] = (int8_t)range(-128, 127);
    }
}

static void fill_quant(int32_t ch, int32_t huge_bias)
{
    for (int32_t o = 0; o < ch; ++o) {
        g_mult[o] = (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
        g_shift[o] = range(-14, 1);
        g_bias[o] = huge_bias ? (int32_t)rnd() : range(-70000, 70000);
    }
    if (range(0, 7) == 0) { /* an exact power of two and a zero-shift channel */
        g_mult[0] = 0x40000000;
        g_shift[ch - 1] = 0;
    }
}

static void act_range(int32_t *lo, int32_t *hi)
{
    switch (range(0, 3)) {
    case 0: *lo = -128; *hi = 127; break;
    case 1: *lo = range(-128, 0); *hi = 127; break;
    case 2: *lo = range(-128, 0); *hi = range(*lo, 127); break;
    default: *lo = *hi = range(-128, 127); break;
    }
}

/* Tiny formatting (no stdio: the board build links without malloc). */
static char *put_s(char *d, const char *s)
{
    while (*s) {
        *d++ = *s++;
    }
    *d = 0;
    return d;
}

static char *put_i(char *d, int32_t v)
{
    char tmp[12];
    int n = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (v < 0) {
        *d++ = '-';
    }
    while (n) {
        *d++ = tmp[--n];
    }
    *d = 0;
    return d;
}

static void compare(const char *what, int32_t n, int32_t st, int32_t case_no)
{
    char line[160];
    ++g_compared;
    if (st != TK_OK) {
        ++g_bad;
        char *d = put_s(line, "MISMATCH ");
        d = put_i(put_s(put_s(d, what), " case "), case_no);
        put_i(put_s(d, ": status "), st);
        g_emit(line);
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        if (g_out[i] != g_ref[i]) {
            ++g_bad;
            char *d = put_s(line, "MISMATCH ");
            d = put_i(put_s(put_s(d, what), " case "), case_no);
            d = put_i(put_s(d, " element "), i);
            d = put_i(put_s(d, ": variant "), g_out[i]);
            put_i(put_s(d, " reference "), g_ref[i]);
            g_emit(line);
            return;
        }
    }
}

static void random_add(tk_add_params *p)
{
    p->input1_offset = range(-127, 128);
    p->input2_offset = range(-127, 128);
    p->output_offset = range(-128, 127);
    p->left_shift = range(0, 7) == 0 ? range(0, 20) : 20;
    p->input1_multiplier = (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
    p->input1_shift = range(-3, 0);
    p->input2_multiplier = (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
    p->input2_shift = range(-3, 0);
    p->output_multiplier = (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
    p->output_shift = range(0, 9) == 0 ? range(-30, 3) : range(-22, -12);
    act_range(&p->act_min, &p->act_max);
}

typedef tk_status (*conv_fn)(const tk_conv_params *, const tk_channel_quant *, const tk_dims *,
                             const int8_t *, const tk_dims *, const int32_t *, const int32_t *,
                             const tk_dims *, int8_t *, void *);
typedef int32_t (*conv_scratch_fn)(const tk_conv_params *, const tk_dims *, const tk_dims *, const tk_dims *);

static void conv_case(int32_t case_no)
{
    const int32_t shape = range(0, 5);  /* bias the draw towards the special paths */
    int32_t kh = shape == 0 ? 1 : shape <= 2 ? 3 : range(1, 5);
    int32_t kw = shape == 0 ? 1 : shape <= 2 ? 3 : range(1, 5);
    const int32_t dil = shape <= 2 ? 1 : range(1, 2);
    int32_t cin = range(0, 1) ? 4 * range(1, 6) : range(1, 13);
    int32_t cout = range(1, 13);
    int32_t h = range(1, 10), w = range(1, 10), n = range(1, 2);
    const int32_t sh = range(1, 3), sw = range(1, 3);
    int32_t ph = shape == 0 ? 0 : range(0, dil * (kh - 1)), pw = shape == 0 ? 0 : range(0, dil * (kw - 1));
    if (case_no % 17 == 0) {  /* a wide layer: K = 576, 28 channels (8 triples + 2 pairs) */
        kh = kw = 3, cin = 64, cout = 28, h = w = 4, n = 1, ph = pw = 1;
    }
    if (case_no % 13 == 5 && dil == 1) {  /* an RGB input layer: the 3x3 path's C_in == 3 */
        kh = kw = 3, cin = 3, ph = range(0, 2), pw = range(0, 2);
    }
    const int32_t oh = (h + 2 * ph - dil * (kh - 1) - 1) / sh + 1;
    const int32_t ow = (w + 2 * pw - dil * (kw - 1) - 1) / sw + 1;
    if (oh < 1 || ow < 1 || h + 2 * ph < dil * (kh - 1) + 1 || w + 2 * pw < dil * (kw - 1) + 1 ||
        n * h * w * cin > MAX_ACT || n * oh * ow * cout > MAX_ACT || cout * kh * kw * cin > MAX_FILTER) {
        return;
    }
    const tk_dims in = {n, h, w, cin}, f = {cout, kh, kw, cin}, out = {n, oh, ow, cout};
    tk_conv_params p = {range(-127, 128), range(-128, 127), sh, sw, ph, pw, dil, dil, 0, 0};
    act_range(&p.act_min, &p.act_max);
    fill_s8(g_in, n * h * w * cin);
    fill_s8(g_filter, cout * kh * kw * cin);
    fill_quant(cout, range(0, 9) == 0);
    const tk_channel_quant q = {g_mult, g_shift};
    const int32_t *bias = range(0, 5) == 0 ? NULL : g_bias;
    const int32_t n_out = n * oh * ow * cout;
    if (tk_conv2d_s8(&p, &q, &in, g_in, &f, g_filter, bias, &out, g_ref, NULL) != TK_OK) {
        return;
    }
    const int is_1x1 = kh == 1 && kw == 1 && ph == 0 && pw == 0 && cin % 4 == 0;
    const int is_3x3 = kh == 3 && kw == 3 && dil == 1 && (cin % 4 == 0 || cin == 3);
    const struct {
        const char *name;
        conv_fn fn;
        conv_scratch_fn size;
        int ok;
        int w8;      /* int8 filter layout */
        int w3x3;    /* the 3x3 path's own reduction order */
    } variants[] = {
        {"conv2d_s8_cm4", tk_conv2d_s8_cm4, tk_conv2d_s8_cm4_scratch_size, 1, 0, 0},
        {"conv2d_1x1_s8_cm4", tk_conv2d_1x1_s8_cm4, tk_conv2d_1x1_s8_cm4_scratch_size, is_1x1, 0, 0},
        {"conv2d_3x3_s8_cm4", tk_conv2d_3x3_s8_cm4, tk_conv2d_3x3_s8_cm4_scratch_size, is_3x3, 0, 1},
        {"conv2d_s8_w8_cm4", tk_conv2d_s8_w8_cm4, tk_conv2d_s8_cm4_scratch_size, 1, 1, 0},
        {"conv2d_1x1_s8_w8_cm4", tk_conv2d_1x1_s8_w8_cm4, tk_conv2d_1x1_s8_cm4_scratch_size, is_1x1, 1, 0},
        {"conv2d_3x3_s8_w8_cm4", tk_conv2d_3x3_s8_w8_cm4, tk_conv2d_3x3_s8_w8_cm4_scratch_size, is_3x3, 1, 1},
    };
#define PACK_FOR(v)                                                                                    \
    (variants[v].w3x3 ? (variants[v].w8 ? tk_conv2d_3x3_pack8_s8_cm4 : tk_conv2d_3x3_pack_s8_cm4)(       \
                            g_filter, cout, cin, g_packed)                                              \
                      : (variants[v].w8 ? tk_conv2d_pack8_s8_cm4 : tk_conv2d_pack_s8_cm4)(              \
                            g_filter, cout, kh * kw * cin, g_packed))
    for (unsigned v = 0; v < sizeof variants / sizeof variants[0]; ++v) {
        if (!variants[v].ok) {
            continue;
        }
        const int32_t need = variants[v].size(&p, &in, &f, &out);
        if (need > MAX_SCRATCH) {
            continue;
        }
        PACK_FOR(v);
        memset(g_scratch, 0xA5, (size_t)need);
        memset(g_out, 0x5A, (size_t)n_out);
        compare(variants[v].name, n_out,
                variants[v].fn(&p, &q, &in, g_in, &f, g_packed, bias, &out, g_out, g_scratch), case_no);
    }
    /* The same convolution with a residual ADD fused in (random ADD quantization, operand
     * order and band height), writing over the shortcut as the exporter plans it, against
     * the reference convolution then the reference ADD. */
    tk_residual res;
    random_add(&res.add);
    res.conv_is_input1 = range(0, 1);
    res.rows = range(1, oh + 1);
    fill_s8(g_short, n_out);
    if ((res.conv_is_input1 ? tk_add_s8(&res.add, n_out, g_ref, n_out, g_short, g_out)
                            : tk_add_s8(&res.add, n_out, g_short, n_out, g_ref, g_out)) != TK_OK) {
        return;
    }
    memcpy(g_ref, g_out, (size_t)n_out);   /* the expected sums */
    const int32_t band = tk_conv2d_add_s8_chunk_size(&res, &out);
    if (band + tk_conv2d_s8_scratch_size(&p, &in, &f, &out) <= MAX_SCRATCH) {
        memcpy(g_out, g_short, (size_t)n_out);
        compare("conv2d_add_s8", n_out,
                tk_conv2d_add_s8(&p, &q, &in, g_in, &f, g_filter, bias, &out, g_out, g_scratch, &res, g_out),
                case_no);
    }
    for (unsigned v = 0; v < sizeof variants / sizeof variants[0]; ++v) {
        if (!variants[v].ok || band + variants[v].size(&p, &in, &f, &out) > MAX_SCRATCH) {
            continue;
        }
        PACK_FOR(v);
        memset(g_scratch, 0xA5, (size_t)(band + variants[v].size(&p, &in, &f, &out)));
        memcpy(g_out, g_short, (size_t)n_out);
        compare("conv2d_add_s8_cm4", n_out,
                tk_conv2d_add_s8_cm4(variants[v].fn, &p, &q, &in, g_in, &f, g_packed, bias, &out, g_out, g_scratch,
                                     &res, g_out),
                case_no);
    }
#undef PACK_FOR
}

static void dw_case(int32_t case_no)
{
    const int32_t kh = range(1, 5), kw = range(1, 5), dil = range(1, 2);
    const int32_t ch = range(0, 1) ? 4 * range(1, 8) : range(1, 19);
    const int32_t h = range(1, 10), w = range(1, 10), n = range(1, 2);
    const int32_t sh = range(1, 3), sw = range(1, 3);
    const int32_t ph = range(0, dil * (kh - 1)), pw = range(0, dil * (kw - 1));
    const int32_t oh = (h + 2 * ph - dil * (kh - 1) - 1) / sh + 1;
    const int32_t ow = (w + 2 * pw - dil * (kw - 1) - 1) / sw + 1;
    if (oh < 1 || ow < 1 || h + 2 * ph < dil * (kh - 1) + 1 || w + 2 * pw < dil * (kw - 1) + 1 ||
        n * h * w * ch > MAX_ACT || n * oh * ow * ch > MAX_ACT || ch > MAX_CH) {
        return;
    }
    const tk_dims in = {n, h, w, ch}, f = {1, kh, kw, ch}, out = {n, oh, ow, ch};
    tk_dw_conv_params p = {range(-127, 128), range(-128, 127), sh, sw, ph, pw, dil, dil, 1, 0, 0};
    act_range(&p.act_min, &p.act_max);
    fill_s8(g_in, n * h * w * ch);
    fill_s8(g_filter, kh * kw * ch);
    fill_quant(ch, range(0, 9) == 0);
    const tk_channel_quant q = {g_mult, g_shift};
    const int32_t *bias = range(0, 5) == 0 ? NULL : g_bias;
    if (tk_depthwise_conv2d_s8(&p, &q, &in, g_in, &f, g_filter, bias, &out, g_ref, NULL) != TK_OK) {
        return;
    }
    memset(g_scratch, 0xA5, (size_t)tk_depthwise_conv2d_s8_cm4_scratch_size(&in, &f, &out));
    memset(g_out, 0x5A, (size_t)(n * oh * ow * ch));
    compare("depthwise_conv2d_s8_cm4", n * oh * ow * ch,
            tk_depthwise_conv2d_s8_cm4(&p, &q, &in, g_in, &f, g_filter, bias, &out, g_out, g_scratch),
            case_no);
}

static void fc_case(int32_t case_no)
{
    const int32_t rows = range(1, 3), depth = range(1, 300), units = range(1, 21);
    if (rows * depth > MAX_ACT || units * depth > MAX_FILTER) {
        return;
    }
    tk_fc_params p = {range(-127, 128), 0, range(-128, 127), 0, 0};
    act_range(&p.act_min, &p.act_max);
    fill_s8(g_in, rows * depth);
    fill_s8(g_filter, units * depth);
    fill_quant(units, range(0, 9) == 0);
    const tk_channel_quant q = {g_mult, g_shift};
    const int32_t *bias = range(0, 5) == 0 ? NULL : g_bias;
    if (tk_fully_connected_s8(&p, &q, rows, depth, units, g_in, g_filter, bias, g_ref, NULL) != TK_OK) {
        return;
    }
    memset(g_scratch, 0xA5, (size_t)tk_fully_connected_s8_cm4_scratch_size(rows, depth, units));
    memset(g_out, 0x5A, (size_t)(rows * units));
    compare("fully_connected_s8_cm4", rows * units,
            tk_fully_connected_s8_cm4(&p, &q, rows, depth, units, g_in, g_filter, bias, g_out, g_scratch),
            case_no);
}

static void add_case(int32_t case_no)
{
    const int32_t size = range(1, 600);
    int32_t size2 = size;
    if (range(0, 3) == 0) { /* trailing broadcast: a divisor of size */
        size2 = range(1, size);
        while (size % size2 != 0) {
            --size2;
        }
    }
    tk_add_params p;
    random_add(&p);
    fill_s8(g_in, size);
    fill_s8(g_filter, size2);
    if (tk_add_s8(&p, size, g_in, size2, g_filter, g_ref) != TK_OK) {
        return;
    }
    memset(g_out, 0x5A, (size_t)size);
    compare("add_s8_cm4", size, tk_add_s8_cm4(&p, size, g_in, size2, g_filter, g_out), case_no);
}

static void pool_case(int32_t case_no)
{
    const int32_t fh = range(1, 4), fw = range(1, 4), sh = range(1, 3), sw = range(1, 3);
    const int32_t ch = range(0, 1) ? 4 * range(1, 8) : range(1, 19);
    const int32_t h = range(1, 10), w = range(1, 10), n = range(1, 2);
    const int32_t ph = range(0, fh - 1), pw = range(0, fw - 1);
    const int32_t oh = (h + 2 * ph - fh) / sh + 1, ow = (w + 2 * pw - fw) / sw + 1;
    if (oh < 1 || ow < 1 || n * h * w * ch > MAX_ACT || n * oh * ow * ch > MAX_ACT) {
        return;
    }
    const tk_dims in = {n, h, w, ch}, out = {n, oh, ow, ch};
    tk_pool_params p = {fh, fw, sh, sw, ph, pw, 0, 0};
    act_range(&p.act_min, &p.act_max);
    fill_s8(g_in, n * h * w * ch);
    if (tk_max_pool2d_s8(&p, &in, g_in, &out, g_ref) != TK_OK) {
        return;
    }
    memset(g_out, 0x5A, (size_t)(n * oh * ow * ch));
    compare("max_pool2d_s8_cm4", n * oh * ow * ch, tk_max_pool2d_s8_cm4(&p, &in, g_in, &out, g_out), case_no);
}

int32_t cm4_check_run(uint32_t seed, int32_t cases, cm4_emit_fn emit)
{
    char line[120];
    g_rng = seed ? seed : 1u;
    g_compared = g_bad = 0;
    g_emit = emit;
    for (int32_t i = 0; i < cases; ++i) {
        conv_case(i);
        dw_case(i);
        fc_case(i);
        add_case(i);
        pool_case(i);
    }
    char *d = put_i(put_s(line, "CM4CHECK done cases="), cases);
    d = put_i(put_s(d, " compared="), g_compared);
    put_i(put_s(d, " mismatches="), g_bad);
    emit(line);
    return g_bad;
}
