/*
 * MLPerf Tiny / EEMBC DUT protocol: line assembly, command dispatch and the replies.
 * See mlperf_protocol.h for the command set; this file has no board or model dependency.
 */
#include "mlperf_protocol.h"

#include <string.h>

/* Next space-separated word of *cursor (NUL-terminated in place), or NULL at the end. The
 * C library's strtok_r is POSIX, not C11. */
static char *next_word(char **cursor)
{
    char *p = *cursor;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '\0') {
        *cursor = p;
        return NULL;
    }
    char *word = p;
    while (*p != '\0' && *p != ' ' && *p != '\t') {
        p++;
    }
    if (*p != '\0') {
        *p++ = '\0';
    }
    *cursor = p;
    return word;
}

/* ---- output helpers -------------------------------------------------------------------- */

static void put(const mlperf_state_t *st, const char *s)
{
    st->hooks->write(st->hooks->ctx, s, strlen(s));
}

static void put_u32(const mlperf_state_t *st, uint32_t v)
{
    char buf[11];
    size_t i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    st->hooks->write(st->hooks->ctx, buf + i, sizeof buf - i);
}

static void put_i32(const mlperf_state_t *st, int32_t v)
{
    if (v < 0) {
        put(st, "-");
        put_u32(st, (uint32_t)0 - (uint32_t)v);
    } else {
        put_u32(st, (uint32_t)v);
    }
}

static void put_hex2(const mlperf_state_t *st, uint8_t b)
{
    static const char digits[] = "0123456789abcdef";
    char two[2] = {digits[b >> 4], digits[b & 15u]};
    st->hooks->write(st->hooks->ctx, two, 2);
}

static void put_ready(const mlperf_state_t *st) { put(st, "m-ready\r\n"); }

/* e-[<a><b>] where b may be empty; messages name the bad value and what is allowed. */
static void put_error(const mlperf_state_t *st, const char *a, const char *b)
{
    put(st, "e-[");
    put(st, a);
    put(st, b);
    put(st, "]\r\n");
}

static void put_lap(const mlperf_state_t *st)
{
    uint32_t t = st->hooks->now_us(st->hooks->ctx);
    put(st, "m-lap-us-");
    put_u32(st, t);
    put(st, "\r\n");
}

/* ---- exact "%.3f" ---------------------------------------------------------------------- */

size_t mlperf_format_fixed3(float v, char *out)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    const int negative = (int)(bits >> 31);
    const uint32_t exp = (bits >> 23) & 0xFFu;
    const uint32_t frac = bits & 0x7FFFFFu;
    char *p = out;

    if (exp == 0xFFu) {
        strcpy(out, frac != 0u ? "nan" : (negative ? "-inf" : "inf"));
        return strlen(out);
    }
    if (negative) {
        *p++ = '-'; /* printf keeps the sign of -0.0 and of values that round to zero */
    }
    /* |v| = m * 2^e exactly. */
    const uint64_t m = exp == 0u ? frac : (frac | 0x800000u);
    const int e = exp == 0u ? -149 : (int)exp - 150;

    if (e >= 0) {
        /* An integer up to 2^128: double a little-endian decimal digit string e times. */
        uint8_t digit[40] = {0};
        size_t used = 0;
        for (uint64_t t = m; t != 0u; t /= 10u) {
            digit[used++] = (uint8_t)(t % 10u);
        }
        if (used == 0u) {
            digit[used++] = 0;
        }
        for (int k = 0; k < e; k++) {
            unsigned carry = 0;
            for (size_t i = 0; i < used; i++) {
                unsigned d = digit[i] * 2u + carry;
                digit[i] = (uint8_t)(d % 10u);
                carry = d / 10u;
            }
            if (carry != 0u) {
                digit[used++] = (uint8_t)carry;
            }
        }
        while (used > 0u) {
            *p++ = (char)('0' + digit[--used]);
        }
        memcpy(p, ".000", 5);
        return (size_t)(p - out) + 4u;
    }

    /* Thousandths: round(m * 1000 / 2^s) with ties to even; m * 1000 < 2^34 is exact. */
    const unsigned s = (unsigned)(-e);
    const uint64_t n = m * 1000u;
    uint64_t q = 0;
    if (s < 40u) {
        q = n >> s;
        const uint64_t rem = n & ((UINT64_C(1) << s) - 1u);
        const uint64_t half = UINT64_C(1) << (s - 1u);
        if (rem > half || (rem == half && (q & 1u) != 0u)) {
            q++;
        }
    } /* else |v| * 1000 < 2^-5: rounds to zero */

    const uint64_t whole = q / 1000u;
    const unsigned thousandths = (unsigned)(q % 1000u);
    char buf[24];
    size_t i = sizeof buf;
    uint64_t t = whole;
    do {
        buf[--i] = (char)('0' + t % 10u);
        t /= 10u;
    } while (t != 0u);
    memcpy(p, buf + i, sizeof buf - i);
    p += sizeof buf - i;
    *p++ = '.';
    *p++ = (char)('0' + thousandths / 100u);
    *p++ = (char)('0' + thousandths / 10u % 10u);
    *p++ = (char)('0' + thousandths % 10u);
    *p = '\0';
    return (size_t)(p - out);
}

/* ---- argument parsing ------------------------------------------------------------------ */

/* Strict decimal: digits only, value <= max. 1 on success. */
static int parse_uint(const char *s, uint32_t max, uint32_t *out)
{
    uint32_t v = 0;
    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
        uint32_t d = (uint32_t)(*s - '0');
        if (v > (max - d) / 10u) {
            return 0;
        }
        v = v * 10u + d;
    }
    *out = v;
    return 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* ---- commands ------------------------------------------------------------------------- */

static void print_results(const mlperf_state_t *st)
{
    int8_t raw[MLPERF_MAX_RESULTS];
    size_t n = st->hooks->output(st->hooks->ctx, raw, MLPERF_MAX_RESULTS);
    char num[48];
    put(st, "m-results-[");
    for (size_t i = 0; i < n; i++) {
        mlperf_format_fixed3(st->hooks->dequantize(st->hooks->ctx, raw[i]), num);
        put(st, num);
        if (i + 1u < n) {
            put(st, ",");
        }
    }
    put(st, "]\r\n");
}

static void print_raw(const mlperf_state_t *st)
{
    int8_t raw[MLPERF_MAX_RESULTS];
    size_t n = st->hooks->output(st->hooks->ctx, raw, MLPERF_MAX_RESULTS);
    put(st, "m-raw-[");
    for (size_t i = 0; i < n; i++) {
        put_i32(st, raw[i]);
        if (i + 1u < n) {
            put(st, ",");
        }
    }
    put(st, "]\r\n");
}

static void cmd_db(mlperf_state_t *st, char **save)
{
    char *sub = next_word(save);
    if (sub == NULL) {
        put_error(st, "Command 'db' requires a subcommand: load N, print or hex bytes", "");
        return;
    }
    if (strcmp(sub, "load") == 0) {
        char *arg = next_word(save);
        uint32_t n = 0;
        if (arg == NULL) {
            put_error(st, "Command 'db load' requires the number of bytes", "");
        } else if (next_word(save) != NULL) {
            put_error(st, "Command 'db load' takes one argument, the number of bytes", "");
        } else if (!parse_uint(arg, MLPERF_DB_CAPACITY, &n) || n == 0u) {
            put(st, "e-[db load: byte count must be 1..");
            put_u32(st, MLPERF_DB_CAPACITY);
            put(st, ", got '");
            put(st, arg);
            put(st, "']\r\n");
        } else {
            st->db_size = n;
            st->db_pos = 0;
            put(st, "m-[Expecting ");
            put_u32(st, n);
            put(st, " bytes]\r\n");
        }
        return;
    }
    if (strcmp(sub, "print") == 0) {
        for (size_t i = 0; i < st->db_pos; i++) {
            if (i % 8u == 0u) {
                put(st, "m-buffer-");
            }
            put_hex2(st, st->db[i]);
            put(st, (i % 8u == 7u || i + 1u == st->db_pos) ? "\r\n" : "-");
        }
        return;
    }
    /* Hex data: validate the whole chunk before storing any of it, so a bad chunk changes
     * nothing and the host can simply resend it. */
    if (next_word(save) != NULL) {
        put_error(st, "db: hex data must be one word without spaces", "");
        return;
    }
    size_t digits = strlen(sub);
    if (st->db_size == 0u) {
        put_error(st, "db: no buffer announced; send 'db load N' first", "");
        return;
    }
    if (digits % 2u != 0u) {
        put(st, "e-[db: ");
        put_u32(st, (uint32_t)digits);
        put(st, " hex digits; two per byte expected]\r\n");
        return;
    }
    for (size_t i = 0; i < digits; i++) {
        if (hex_value(sub[i]) < 0) {
            char bad[2] = {sub[i], '\0'};
            put_error(st, "db: invalid hex digit ", bad);
            return;
        }
    }
    size_t bytes = digits / 2u;
    if (st->db_pos == st->db_size) {
        put(st, "e-[db: buffer already full (");
        put_u32(st, (uint32_t)st->db_size);
        put(st, " bytes); send 'db load N' to start a new one]\r\n");
        return;
    }
    if (bytes > st->db_size - st->db_pos) {
        put(st, "e-[db: ");
        put_u32(st, (uint32_t)bytes);
        put(st, " bytes exceed the announced length: ");
        put_u32(st, (uint32_t)(st->db_size - st->db_pos));
        put(st, " of ");
        put_u32(st, (uint32_t)st->db_size);
        put(st, " bytes remain; chunk ignored]\r\n");
        return;
    }
    for (size_t i = 0; i < bytes; i++) {
        st->db[st->db_pos++] = (uint8_t)(hex_value(sub[2u * i]) * 16 + hex_value(sub[2u * i + 1u]));
    }
    if (st->db_pos == st->db_size) {
        put(st, "m-load-done\r\n");
    }
}

static void cmd_infer(mlperf_state_t *st, char **save)
{
    uint32_t n = 1, w = 10; /* the reference monitor's defaults */
    char *arg = next_word(save);
    if (arg != NULL) {
        if (!parse_uint(arg, MLPERF_MAX_ITERATIONS, &n) || n == 0u) {
            put_error(st, "infer: iterations must be 1..100000, got ", arg);
            return;
        }
        arg = next_word(save);
        if (arg != NULL && !parse_uint(arg, MLPERF_MAX_ITERATIONS, &w)) {
            put_error(st, "infer: warm-up iterations must be 0..100000, got ", arg);
            return;
        }
        if (arg != NULL && next_word(save) != NULL) {
            put_error(st, "infer: usage 'infer N [W]'", "");
            return;
        }
    }
    if (st->db_pos != st->hooks->input_bytes) {
        put(st, "e-[infer: ");
        put_u32(st, (uint32_t)st->db_pos);
        put(st, " bytes loaded, the model needs ");
        put_u32(st, (uint32_t)st->hooks->input_bytes);
        put(st, "; send 'db load N' and the data first]\r\n");
        return;
    }
    const char *err = st->hooks->load(st->hooks->ctx, st->db, st->db_pos);
    if (err != NULL) {
        put_error(st, "infer: cannot load the input: ", err);
        return;
    }
    put(st, "m-warmup-start-");
    put_u32(st, w);
    put(st, "\r\n");
    for (uint32_t i = 0; i < w; i++) {
        if ((err = st->hooks->infer(st->hooks->ctx)) != NULL) {
            put_error(st, "infer: inference failed: ", err);
            return;
        }
    }
    put(st, "m-warmup-done\r\nm-infer-start-");
    put_u32(st, n);
    put(st, "\r\n");
    put_lap(st);
    for (uint32_t i = 0; i < n; i++) {
        if ((err = st->hooks->infer(st->hooks->ctx)) != NULL) {
            put_error(st, "infer: inference failed: ", err);
            return;
        }
        /* Lets the clock extend its 32-bit tick counter even across long runs. */
        (void)st->hooks->now_us(st->hooks->ctx);
    }
    put_lap(st);
    st->have_output = 1;
    put(st, "m-infer-done\r\n");
    print_results(st);
}

static void cmd_help(const mlperf_state_t *st)
{
    put(st, st->hooks->firmware);
    put(st, "\r\n"
            "help         : print this information\r\n"
            "name         : print the name of the device\r\n"
            "profile      : print the firmware and the model (ic01)\r\n"
            "timestamp    : print the timer in microseconds\r\n"
            "db load N    : start a new input buffer of N bytes\r\n"
            "db HH[HH]*   : append hex bytes until N bytes are loaded\r\n"
            "db print     : print the loaded bytes as hex\r\n"
            "infer N [W]  : load the input, run W warm-up then N timed inferences\r\n"
            "results      : print the last result vector (dequantized)\r\n"
            "raw          : print the last int8 output tensor (tinykd extension)\r\n"
            "info         : print the model hash, input mapping and timer (tinykd extension)\r\n");
}

void mlperf_execute(mlperf_state_t *st, char *line)
{
    char *save = line;
    char *cmd = next_word(&save);
    if (cmd == NULL) {
        /* An empty command (a lone '%') is what runners send to flush a partial line. */
    } else if (strcmp(cmd, "name") == 0) {
        put(st, "m-name-dut-[");
        put(st, st->hooks->vendor);
        put(st, "]\r\n");
    } else if (strcmp(cmd, "profile") == 0) {
        put(st, "m-profile-[");
        put(st, st->hooks->firmware);
        put(st, "]\r\nm-model-[");
        put(st, st->hooks->model);
        put(st, "]\r\n");
    } else if (strcmp(cmd, "info") == 0) {
        put(st, "m-info-[");
        put(st, st->hooks->info != NULL ? st->hooks->info : "");
        put(st, "]\r\n");
    } else if (strcmp(cmd, "help") == 0) {
        cmd_help(st);
    } else if (strcmp(cmd, "timestamp") == 0) {
        put_lap(st);
    } else if (strcmp(cmd, "db") == 0) {
        cmd_db(st, &save);
    } else if (strcmp(cmd, "infer") == 0) {
        cmd_infer(st, &save);
    } else if (strcmp(cmd, "results") == 0 || strcmp(cmd, "raw") == 0) {
        if (!st->have_output) {
            put_error(st, "No results yet: run 'infer N W' first", "");
        } else if (cmd[1] == 'e') {
            print_results(st);
        } else {
            print_raw(st);
        }
    } else {
        put_error(st, "Unknown command: ", cmd);
    }
    put_ready(st);
}

void mlperf_feed(mlperf_state_t *st, char c)
{
    if (c == '%') {
        if (st->line_overflow != 0u) {
            put(st, "e-[Command too long: ");
            put_u32(st, (uint32_t)(st->line_len + st->line_overflow));
            put(st, " characters, at most ");
            put_u32(st, MLPERF_LINE_MAX);
            put(st, " allowed; ignored]\r\n");
            put_ready(st);
        } else {
            st->line[st->line_len] = '\0';
            mlperf_execute(st, st->line);
        }
        st->line_len = 0;
        st->line_overflow = 0;
    } else if (c == '\r' || c == '\n') {
        /* ignored: terminals send them, the protocol does not use them */
    } else if (st->line_len < MLPERF_LINE_MAX) {
        st->line[st->line_len++] = c;
    } else if (st->line_overflow < SIZE_MAX) {
        st->line_overflow++;
    }
}

void mlperf_init(mlperf_state_t *st, const mlperf_hooks_t *hooks)
{
    memset(st, 0, sizeof *st);
    st->hooks = hooks;
    put(st, "m-init-done\r\n");
    put_ready(st);
}
