#include "codec.h"

#include <math.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "anpt.pb.h"

anpt_codec anpt_cx;

/* One sint32 as protobuf decodes it: the low 32 bits of the varint, then zigzag. */
static bool decode_codes(pb_istream_t *s)
{
    while (s->bytes_left) {
        uint64_t raw;
        if (!pb_decode_varint(s, &raw))
            return false;
        uint32_t u = (uint32_t)raw;
        int64_t v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        if (anpt_cx.store && anpt_cx.count < anpt_cx.cap) {
            const anpt_fmt *f = anpt_cx.fmt; /* saturate, as the emulator quantises */
            v = v < f->min ? f->min : v > f->max ? f->max : v;
            if (anpt_cx.dst32)
                anpt_cx.dst32[anpt_cx.count] = (int32_t)v;
            else
                anpt_cx.dst[anpt_cx.count] = (int16_t)v;
        }
        anpt_cx.count++;
    }
    return true;
}

/* n codes of p (int16) or, when p32 is set, of p32 (int32), as one packed field. */
static bool encode_codes_of(pb_ostream_t *s, uint32_t tag, const int16_t *p, const int32_t *p32, uint32_t n)
{
    if (n == 0)
        return true;
    pb_ostream_t sizing = PB_OSTREAM_SIZING;
    for (int pass = 0; pass < 2; pass++) {
        pb_ostream_t *o = pass ? s : &sizing;
        if (pass && (!pb_encode_tag(s, PB_WT_STRING, tag) || !pb_encode_varint(s, sizing.bytes_written)))
            return false;
        for (uint32_t i = 0; i < n; i++)
            if (!pb_encode_svarint(o, p32 ? p32[i] : p[i]))
                return false;
    }
    return true;
}

static bool encode_codes(pb_ostream_t *s, uint32_t tag, const int16_t *p, uint32_t n)
{
    return encode_codes_of(s, tag, p, NULL, n);
}

/* Requests are decoded on the device; encoding them (anpt_cx.codes / .dl as the
 * source) serves C hosts and the fuzzer's seed corpus. */
bool anpt_v2_WriteParams_callback(pb_istream_t *istream, pb_ostream_t *ostream, const pb_field_t *field)
{
    if (field->tag != anpt_v2_WriteParams_codes_tag)
        return true;
    return istream ? decode_codes(istream) : encode_codes(ostream, field->tag, anpt_cx.codes, anpt_cx.n_codes);
}

bool anpt_v2_Run_callback(pb_istream_t *istream, pb_ostream_t *ostream, const pb_field_t *field)
{
    if (field->tag != anpt_v2_Run_inputs_tag)
        return true;
    return istream ? decode_codes(istream) : encode_codes(ostream, field->tag, anpt_cx.codes, anpt_cx.n_codes);
}

/* One dL of either encoding: counted, checked, stored (a float32 widened to double). */
static void take_dl(double x)
{
    if (!isfinite(x) && !anpt_cx.nonfinite)
        anpt_cx.nonfinite = (int)anpt_cx.count + 1;
    if (anpt_cx.store && anpt_cx.count < anpt_cx.cap)
        anpt_cx.dl[anpt_cx.count] = x;
    anpt_cx.count++;
}

bool anpt_v2_Reward_callback(pb_istream_t *istream, pb_ostream_t *ostream, const pb_field_t *field)
{
    if (field->tag == anpt_v2_Reward_delta_loss_f32_tag) {
        if (ostream)
            return true; /* C hosts send delta_loss */
        while (istream->bytes_left) {
            float x;
            if (!pb_decode_fixed32(istream, &x))
                return false;
            take_dl((double)x);
        }
        return true;
    }
    if (field->tag != anpt_v2_Reward_delta_loss_tag)
        return true;
    if (ostream) {
        if (anpt_cx.cap == 0)
            return true;
        if (!pb_encode_tag(ostream, PB_WT_STRING, field->tag) || !pb_encode_varint(ostream, 8u * anpt_cx.cap))
            return false;
        for (uint32_t i = 0; i < anpt_cx.cap; i++)
            if (!pb_encode_fixed64(ostream, &anpt_cx.dl[i]))
                return false;
        return true;
    }
    while (istream->bytes_left) {
        double x;
        if (!pb_decode_fixed64(istream, &x))
            return false;
        take_dl(x);
    }
    return true;
}

bool anpt_v2_RunReply_callback(pb_istream_t *istream, pb_ostream_t *ostream, const pb_field_t *field)
{
    (void)istream;
    if (!ostream)
        return true;
    if (field->tag == anpt_v2_RunReply_clean_tag)
        return encode_codes(ostream, field->tag, anpt_cx.clean, anpt_cx.n_clean);
    if (field->tag == anpt_v2_RunReply_noisy_tag)
        return encode_codes(ostream, field->tag, anpt_cx.noisy, anpt_cx.n_noisy);
    if (field->tag == anpt_v2_RunReply_hidden_tag)
        return encode_codes(ostream, field->tag, anpt_cx.hidden, anpt_cx.n_hidden);
    return true;
}

bool anpt_v2_ReadParamsReply_callback(pb_istream_t *istream, pb_ostream_t *ostream, const pb_field_t *field)
{
    (void)istream;
    if (!ostream || field->tag != anpt_v2_ReadParamsReply_codes_tag)
        return true;
    return encode_codes_of(ostream, field->tag, anpt_cx.codes, anpt_cx.codes32, anpt_cx.n_codes);
}
