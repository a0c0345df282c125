/* aelab's compiled kernels: a whole training step of a dense autoencoder (or of a sweep's models, or of a dense VAE)
 * in one call, its elementwise parts fused into single passes.
 *
 * At batch 32 the study's models spend more time in ~20 small framework kernels per step (sigmoid,
 * log, sums, masks, Adam's several passes), each a dispatch plus a trip through memory, than in
 * their matrix products. Here each group is one pass over the data, and the products are the
 * caller's sgemm (scipy.linalg.cython_blas: OpenBLAS, dispatched at run time to the CPU's kernels).
 * Plain C on raw float32 pointers; the typed boundary is aelab_kernels.h, compiled with the package
 * (native/ffibuild.py). Formulas: docs/engine.md, cited as (E1)…(E9).
 *
 * Every array is row-major and contiguous. "models" stacks independent models (a sweep): model m's
 * rows start at m * rows * cols; a single model passes models = 1.
 * Built without -ffinite-math-only, so NaN and inf propagate and the trainer's guards still see them.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <fenv.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aelab_kernels.h"

_Static_assert(AELAB_MAX_LAYERS == 16, "aelab_kernels.h sizes its arrays for 16 layers");

/* glibc's vector maths (libmvec) for these two, so that the loops below vectorize. */
extern float expf(float) __attribute__((__simd__("notinbranch")));
extern float logf(float) __attribute__((__simd__("notinbranch")));

/* (E3) log(1 + e) for e = e^{−|z|} in (0, 1]: a degree-9 polynomial fitted at Chebyshev nodes on [0, 1]
 * (error 1.6e-8 with these float32 coefficients; 1.1e-7 evaluated in float32, under 2 ulp of log 2:
 * docs/engine.md (E3), checked by tests/test_native.py). A handful of FMAs instead of a call to the
 * vector log: the output layer's loss is the step's largest elementwise pass (one per pixel per model);
 * this made it 23% faster (43.6 → 33.6 µs per shallow step). */
static inline float log1p_unit(float e)
{
    float p = 0.003752624150365591f;
    p = p * e - 0.02303827926516533f;
    p = p * e + 0.06651248037815094f;
    p = p * e - 0.12526661157608032f;
    p = p * e + 0.1846884787082672f;
    p = p * e - 0.24635660648345947f;
    p = p * e + 0.3328184187412262f;
    p = p * e - 0.4999622404575348f;
    p = p * e + 0.999998927116394f;
    return p * e + 5.239402689483086e-09f;
}

/* One pixel's BCE from logit z against target x (E1), and its residual σ(z) − x in *residual (E2):
 *   softplus(z) − x·z = max(z, 0) − x·z + log(1 + e),  σ(z) = 1/(1 + e) or e/(1 + e),  e = e^{−|z|}
 * (exact for any z; σ never underflows to a log of 0). Inlined into the vectorised loops below. */
static inline float bce_pixel(float z, float x, float *residual)
{
    float e = expf(-fabsf(z));
    float r = 1.0f / (1.0f + e);
    *residual = (z >= 0.0f ? r : e * r) - x;                   /* (E2) σ(z) − x, σ without overflow */
    return (z > 0.0f ? z : 0.0f) - x * z + log1p_unit(e);     /* (E1) max(z, 0) − x·z + log(1 + e^{−|z|}) */
}

/* Output layer, BCE from logits, per model m (docs/engine.md (E1), (E2)):
 *   loss[m] = Σ softplus(z) − x·z = Σ max(z, 0) − x·z + log(1 + e^{−|z|})     (exact for any z)
 *   grad    = (σ(z) − x) · scale            σ(z) = 1/(1 + e) or e/(1 + e), e = e^{−|z|}
 *   bias_grad[m] = Σ over the batch of grad (the output bias' gradient)
 *   sq[m]   = Σ (σ(z) − x)²  when sq is not NULL (the sweep's MSE)
 * z, grad: (models, rows, cols), z before the output bias (models, cols) is added, which happens here;
 * x: (rows, cols), the same target for every model. bce_output_rows is one model's pass over `cols` columns of
 * rows `ld` apart (ld = cols for a whole matrix; larger for one thread's block of columns). */
static void bce_output_rows(const float *restrict z, const float *restrict x, int64_t rows, int64_t cols, int64_t ld,
                            const float *restrict b, float scale, float *restrict grad, float *restrict bg,
                            double *restrict loss, double *restrict sq)
{
    double total = 0.0, total_sq = 0.0;
    for (int64_t j = 0; j < cols; j++) bg[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++) {
        const float *restrict zr = z + i * ld;
        const float *restrict xr = x + i * ld;
        float *restrict gr = grad + i * ld;
        float row = 0.0f, row_sq = 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            float d;
            row += bce_pixel(zr[j] + b[j], xr[j], &d);
            row_sq += d * d;
            gr[j] = d * scale;  /* (E2) ∂(mean BCE)/∂z = (σ(z) − x)/(b·D) */
            bg[j] += d * scale;
        }
        total += row;
        total_sq += row_sq;
    }
    *loss = total;
    if (sq) *sq = total_sq;
}

void aelab_bce_output(const float *restrict z, const float *restrict x, int64_t models, int64_t rows,
                      int64_t cols, const float *restrict bias, float scale, float *restrict grad,
                      float *restrict bias_grad, double *restrict loss, double *restrict sq)
{
    for (int64_t m = 0; m < models; m++)
        bce_output_rows(z + m * rows * cols, x, rows, cols, cols, bias + m * cols, scale, grad + m * rows * cols,
                        bias_grad + m * cols, loss + m, sq ? sq + m : NULL);
}

/* The same loss without a gradient, for evaluation: per model m, loss[m] = Σ BCE of logits z + bias
 * against x and, when sq is not NULL, sq[m] = Σ (σ(z) − x)². Shapes as in aelab_bce_output. */
void aelab_bce_sums(const float *restrict z, const float *restrict x, const float *restrict bias, int64_t models,
                    int64_t rows, int64_t cols, double *restrict loss, double *restrict sq)
{
    for (int64_t m = 0; m < models; m++) {
        const float *restrict b = bias + m * cols;
        double total = 0.0, total_sq = 0.0;
        for (int64_t i = 0; i < rows; i++) {
            const float *restrict zr = z + (m * rows + i) * cols, *restrict xr = x + i * cols;
            float row = 0.0f, row_sq = 0.0f;
            for (int64_t j = 0; j < cols; j++) {
                float d;
                row += bce_pixel(zr[j] + b[j], xr[j], &d);
                row_sq += d * d;
            }
            total += row;
            total_sq += row_sq;
        }
        loss[m] = total;
        if (sq) sq[m] = total_sq;
    }
}

/* Σ BCE of probabilities p (rows, cols), clipped into [clip, 1 − clip], against x: the loss of a
 * reconstruction that is not a sigmoid's output (PCA's), −Σ x·log p + (1 − x)·log(1 − p).
 * 1 − p is clipped on its own (rather than computing 1 − clip(p)), because 1 − 1e-7 rounds in float32
 * and log(1 − that) would be log(1.19e-7), not log(1e-7). */
double aelab_bce_probabilities(const float *restrict p, const float *restrict x, int64_t rows, int64_t cols, float clip)
{
    double total = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        const float *restrict pr = p + i * cols, *restrict xr = x + i * cols;
        float row = 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            float q = pr[j] > 1.0f ? 1.0f : pr[j], c = 1.0f - pr[j];
            q = q < clip ? clip : q;
            c = c > 1.0f ? 1.0f : (c < clip ? clip : c);
            row -= xr[j] * logf(q) + (1.0f - xr[j]) * logf(c);
        }
        total += row;
    }
    return total;
}

/* Hidden layer, forward: h ← max(h + bias, 0) in place, for `rows` rows of `cols` values whose
 * starts are `ld` apart (ld = cols for a whole matrix; larger for a block of columns, such as one
 * group of models' share of a sweep's first layer). Returns Σ h: the L1 term of a sparse code. */
static double bias_relu_rows(float *h, const float *restrict bias, int64_t rows, int64_t cols, int64_t ld)
{
    double total = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        float *restrict hr = h + i * ld;
        float row = 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            float v = hr[j] + bias[j];
            v = v > 0.0f ? v : 0.0f;
            hr[j] = v;
            row += v;
        }
        total += row;
    }
    return total;
}

/* The same after the product h = h_below · Wᵀ, for each of `models` stacked matrices
 * (h: (models, rows, cols), bias: (models, cols)); returns Σ h over all of them. */
double aelab_bias_relu(float *restrict h, const float *restrict bias, int64_t models, int64_t rows, int64_t cols)
{
    double total = 0.0;
    for (int64_t m = 0; m < models; m++)
        total += bias_relu_rows(h + m * rows * cols, bias + m * cols, rows, cols, cols);
    return total;
}

/* Hidden layer, backward through the ReLU (docs/engine.md (E4)), in place, rows `ld` apart as above:
 *   g ← (g + add) · [h > 0]          add: the L1 term's ∂(w·Σ|h|)/∂h = w on the code (h ≥ 0), else 0
 *   bias_grad = Σ over the rows (the batch) of g */
static void relu_backward_rows(float *g, const float *h, int64_t rows, int64_t cols, int64_t ld, float add,
                               float *restrict bias_grad)
{
    for (int64_t j = 0; j < cols; j++) bias_grad[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++) {
        float *restrict gr = g + i * ld;
        const float *restrict hr = h + i * ld;
        for (int64_t j = 0; j < cols; j++) {
            float v = hr[j] > 0.0f ? gr[j] + add : 0.0f;  /* (E4) relu′, with (E6) the L1 subgradient on the code */
            gr[j] = v;
            bias_grad[j] += v;
        }
    }
}

/* The same for each of `models` stacked matrices: g, h (models, rows, cols); bias_grad (models, cols). */
void aelab_relu_backward(float *restrict g, const float *restrict h, int64_t models, int64_t rows, int64_t cols,
                         float add, float *restrict bias_grad)
{
    for (int64_t m = 0; m < models; m++)
        relu_backward_rows(g + m * rows * cols, h + m * rows * cols, rows, cols, cols, add, bias_grad + m * cols);
}

/* Adam over [start, end) of one flat buffer, in one pass, with torch.optim.Adam's formulas and
 * Keras' ε (docs/engine.md (E5)), so that checkpoints and the autograd reference agree. The gradient
 * is grad, plus grad2 when two threads each computed a share of the batch. */
static void adam_update(float *restrict p, float *restrict m, float *restrict v, const float *restrict g,
                        const float *restrict g2, int64_t n, const aelab_adam_scalars *k)
{
    const float beta2 = k->beta2, c1 = k->one_minus_beta1, c2 = k->one_minus_beta2, eps = k->eps, step_size = k->step_size;
    const float inv_bc2_sqrt = 1.0f / k->bc2_sqrt;
    for (int64_t j = 0; j < n; j++) {
        float gj = g2 ? g[j] + g2[j] : g[j];
        float mj = m[j] + c1 * (gj - m[j]);                               /* (E5) m ← β1·m + (1 − β1)·g */
        float vj = beta2 * v[j] + c2 * gj * gj;                           /* (E5) v ← β2·v + (1 − β2)·g² */
        m[j] = mj;
        v[j] = vj;
        p[j] -= step_size * mj / (sqrtf(vj) * inv_bc2_sqrt + eps);        /* (E5) p ← p − α̂·m / (√v̂ + ε) */
    }
}

void aelab_adam(const aelab_adam_buffers *buffers, int64_t start, int64_t end, const aelab_adam_scalars *k)
{
    if (end <= start) return;
    adam_update(buffers->params + start, buffers->exp_avg + start, buffers->exp_avg_sq + start, buffers->grad + start,
                buffers->grad2 ? buffers->grad2 + start : NULL, end - start, k);
}

/* Adam over n parameters at `offset` in the flat buffer whose gradient is g (a block computed just before). */
static void adam_block(const aelab_adam_buffers *buffers, int64_t offset, const float *g, int64_t n,
                       const aelab_adam_scalars *k)
{
    adam_update(buffers->params + offset, buffers->exp_avg + offset, buffers->exp_avg_sq + offset, g, NULL, n, k);
}

/* ---- Whole steps, products included ------------------------------------------------------------ */

/* Row-major C (m × n) = op(A) · op(B) (+ beta·C in gemm_beta), where A, B are row-major with row strides lda, ldb and op
 * transposes when asked. A row-major matrix is its transpose in column-major order, so this is the
 * column-major product Cᵀ = op(B)ᵀ · op(A)ᵀ: the Fortran call with the operands swapped. */
static void gemm_beta(aelab_sgemm sgemm, int trans_a, int trans_b, int m, int n, int k, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc)
{
    char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
    float one = 1.0f;
    sgemm(&ta, &tb, &n, &m, &k, &one, (float *) b, &ldb, (float *) a, &lda, &beta, c, &ldc);
}

static void gemm(aelab_sgemm sgemm, int trans_a, int trans_b, int m, int n, int k, const float *a, int lda,
                 const float *b, int ldb, float *c, int ldc)
{
    gemm_beta(sgemm, trans_a, trans_b, m, n, k, a, lda, b, ldb, 0.0f, c, ldc);
}

/* The forward pass of a share of a batch: h_i = relu(h_{i−1} W_iᵀ + b_i) (E4), the last layer's
 * output (the logits) left before its bias, which the loss pass adds. Returns Σ of the code. */
static double dense_forward(const aelab_dense_model *net, const aelab_dense_work *work, const aelab_batch *batch)
{
    const int b = (int) batch->rows;
    double code_sum = 0.0;
    for (int64_t i = 0; i < net->layers; i++) {
        const int n_in = (int) net->widths[i], n_out = (int) net->widths[i + 1];
        if (i == 0)  /* the first weight is stored (n_in, n_out): x·W */
            gemm(net->sgemm, 0, 0, b, n_out, n_in, batch->x, n_in, net->weights[0], n_out, work->acts[0], n_out);
        else
            gemm(net->sgemm, 0, 1, b, n_out, n_in, work->acts[i - 1], n_in, net->weights[i], n_in, work->acts[i], n_out);
        if (i < net->layers - 1) {
            double s = aelab_bias_relu(work->acts[i], net->biases[i], 1, batch->rows, n_out);
            if (i == net->code_layer) code_sum = s;
        }
    }
    return code_sum;
}

void aelab_dense_loss(const aelab_dense_model *net, const aelab_dense_work *work, const aelab_batch *batch,
                      aelab_sums *sums)
{
    const int64_t last = net->layers - 1;
    sums->code_sum = dense_forward(net, work, batch);
    aelab_bce_sums(work->acts[last], batch->target, net->biases[last], 1, batch->rows, net->widths[net->layers],
                   &sums->bce, NULL);
}

/* The backward pass (E4), (E6) from ∂loss/∂(the last layer's pre-activation) in work->grads[last]
 * (its bias gradient already in work->bias_grads[last]) down to the first layer's weight gradient. */
static void dense_backward(const aelab_dense_model *net, const aelab_dense_work *work, const aelab_batch *batch)
{
    const int b = (int) batch->rows;
    const int64_t last = net->layers - 1;
    for (int64_t i = last; i >= 1; i--) {  /* backward (E4), from the output down to layer 1 */
        const int n_in = (int) net->widths[i], n_out = (int) net->widths[i + 1];
        gemm(net->sgemm, 1, 0, n_out, n_in, b, work->grads[i], n_out, work->acts[i - 1], n_in, work->weight_grads[i],
             n_in);                                                                       /* ∂W_i = gᵀ h_{i−1} */
        gemm(net->sgemm, 0, 0, b, n_in, n_out, work->grads[i], n_out, net->weights[i], n_in, work->grads[i - 1],
             n_in);                                                                       /* ∂h_{i−1} = g W_i */
        aelab_relu_backward(work->grads[i - 1], work->acts[i - 1], 1, batch->rows, n_in,
                            i - 1 == net->code_layer ? batch->l1_add : 0.0f, work->bias_grads[i - 1]);
    }
    const int n_in = (int) net->widths[0], n_out = (int) net->widths[1];
    gemm(net->sgemm, 1, 0, n_in, n_out, b, batch->x, n_in, work->grads[0], n_out, work->weight_grads[0],
         n_out);  /* the first layer, stored (n_in, n_out): xᵀ g */
}

/* Forward, loss and backward of a share of a batch (E1)–(E4), (E6); the share's gradient goes to
 * work's weight_grads and bias_grads (Adam, separately, may add another share's). */
void aelab_dense_gradient(const aelab_dense_model *net, const aelab_dense_work *work, const aelab_batch *batch,
                          aelab_sums *sums)
{
    const int64_t last = net->layers - 1;
    sums->code_sum = dense_forward(net, work, batch);
    aelab_bce_output(work->acts[last], batch->target, 1, batch->rows, net->widths[net->layers], net->biases[last],
                     batch->scale, work->grads[last], work->bias_grads[last], &sums->bce, NULL);
    dense_backward(net, work, batch);
}

/* ---- The dense VAE: the dense step plus the reparameterisation and the KL term (E7)–(E9) ----------- */

/* The head's pass after its product a = h·W_hᵀ (rows, 2k), in place: columns [0, k) become the mean μ,
 * [k, 2k) the log-variance ℓ = log σ², and code the sample z; kl_per_dim[j] = Σ over the rows of KL_rj. */
static void vae_sample(float *restrict head, const float *restrict bias, const float *restrict noise,
                       float *restrict code, int64_t rows, int64_t k, double *restrict kl_per_dim)
{
    for (int64_t j = 0; j < k; j++) kl_per_dim[j] = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        float *restrict mean = head + i * 2 * k, *restrict log_var = mean + k;
        const float *restrict eps = noise + i * k;
        float *restrict z = code + i * k;
        for (int64_t j = 0; j < k; j++) {
            float m = mean[j] + bias[j], l = log_var[j] + bias[k + j];
            float s = expf(0.5f * l);                                /* σ = exp(½ℓ) */
            mean[j] = m;
            log_var[j] = l;
            z[j] = m + s * eps[j];                                   /* (E7) z = μ + exp(½ℓ)·ε */
            kl_per_dim[j] += -0.5f * (1.0f + l - m * m - s * s);     /* (E8) KL = −½(1 + ℓ − μ² − e^ℓ) */
        }
    }
}

/* The head's backward pass: from g_z = ∂loss/∂z (rows, k) and the forward's μ, ℓ in head, the gradient
 * with respect to the head's pre-activation (μ, ℓ) into head_grad (rows, 2k), and its column sums (the
 * head's bias gradient). kl_scale = β/b: the KL term's weight in the loss (a mean over the b images). */
static void vae_sample_backward(float *restrict head_grad, const float *restrict head, const float *restrict noise,
                                const float *restrict code_grad, float kl_scale, int64_t rows, int64_t k,
                                float *restrict bias_grad)
{
    for (int64_t j = 0; j < 2 * k; j++) bias_grad[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++) {
        const float *restrict mean = head + i * 2 * k, *restrict log_var = mean + k;
        const float *restrict eps = noise + i * k, *restrict gz = code_grad + i * k;
        float *restrict g_mean = head_grad + i * 2 * k, *restrict g_log_var = g_mean + k;
        for (int64_t j = 0; j < k; j++) {
            float s = expf(0.5f * log_var[j]);
            float gm = gz[j] + kl_scale * mean[j];                                       /* (E9) ∂z/∂μ = 1; (E8) ∂KL/∂μ = μ */
            float gl = 0.5f * gz[j] * s * eps[j] + kl_scale * 0.5f * (s * s - 1.0f);  /* (E9) ∂z/∂ℓ = ½σε; (E8) ∂KL/∂ℓ = ½(e^ℓ − 1) */
            g_mean[j] = gm;
            g_log_var[j] = gl;
            bias_grad[j] += gm;
            bias_grad[k + j] += gl;
        }
    }
}

/* Forward, loss and backward of a dense VAE on one batch (aelab_kernels.h): the encoder's hidden layers
 * (E4), the head and the sample (E7), the decoder and its BCE (E1), (E2) with batch->scale = 1/b (the sum
 * over pixels, the mean over images), the KL term (E8), and back through the decoder (E4), the sample (E9)
 * and the encoder (E4). */
void aelab_vae_gradient(const aelab_vae_model *vae, const aelab_vae_work *work, const aelab_batch *batch,
                        const float *noise, aelab_vae_sums *sums)
{
    const aelab_dense_model *enc = &vae->encoder, *dec = &vae->decoder;
    const int64_t k = vae->code_size, head = enc->layers - 1, last = dec->layers - 1;
    const int b = (int) batch->rows, n_first = (int) dec->widths[1];
    const aelab_batch inner = {work->code, batch->target, batch->rows, batch->scale, 0.0f};  /* the decoder's input: z */
    dense_forward(enc, &work->encoder, batch);  /* the head's product is left before its bias: vae_sample adds it */
    vae_sample(work->encoder.acts[head], enc->biases[head], noise, work->code, batch->rows, k, sums->kl_per_dim);
    dense_forward(dec, &work->decoder, &inner);
    aelab_bce_output(work->decoder.acts[last], batch->target, 1, batch->rows, dec->widths[dec->layers],
                     dec->biases[last], batch->scale, work->decoder.grads[last], work->decoder.bias_grads[last],
                     &sums->bce, NULL);
    dense_backward(dec, &work->decoder, &inner);
    gemm(dec->sgemm, 0, 1, b, (int) k, n_first, work->decoder.grads[0], n_first, dec->weights[0], n_first,
         work->code_grad, (int) k);  /* (E9) g_z = g_0 W_0, W_0 stored (k, n_out): the decoder's first layer */
    vae_sample_backward(work->encoder.grads[head], work->encoder.acts[head], noise, work->code_grad,
                        vae->beta * batch->scale, batch->rows, k, work->encoder.bias_grads[head]);
    dense_backward(enc, &work->encoder, batch);
    sums->kl = 0.0;
    for (int64_t j = 0; j < k; j++) sums->kl += sums->kl_per_dim[j];
}

/* ---- A second thread for one model: the helper behind aelab_dense_step_pair and aelab_vae_step_pair - */

#define SPINS_BEFORE_SLEEP 200000 /* 1–10 ms of pause instructions (their cost varies by CPU): more than the gap between two steps, then sleep */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

typedef struct {  /* one piece of a step for the helper: a batch share's gradient, or a range of Adam */
    const aelab_dense_model *model;
    const aelab_dense_work *work;
    const aelab_batch *batch;
    aelab_sums *sums;
    const aelab_adam_buffers *adam;
    const aelab_adam_scalars *scalars;
    int64_t start, end;
    const aelab_vae_model *vae;           /* or a dense VAE's share: its work, noise and sums (batch as above) */
    const aelab_vae_work *vae_work;
    const float *noise;
    aelab_vae_sums *vae_sums;
    const aelab_split_work *split;        /* or one thread's columns of a whole dense step (model, batch, sums, adam as above) */
    int thread, parties;
    const aelab_sweep *sweep;             /* or a group of a sweep's models, then Adam on their parameters (batch, adam as above) */
} piece;

static void split_share(const aelab_dense_model *net, const aelab_split_work *work, const aelab_batch *batch,
                        aelab_sums *sums, const aelab_adam_buffers *adam, const aelab_adam_scalars *k, int t, int parties);

static void sweep_group(const aelab_sweep *s, int64_t first_model, int64_t end_model, const aelab_batch *batch,
                        const aelab_adam_buffers *adam, const aelab_adam_scalars *k);

static void run_piece(const piece *p)
{
    if (p->sweep) sweep_group(p->sweep, p->start, p->end, p->batch, p->adam, p->scalars);
    else if (p->split) split_share(p->model, p->split, p->batch, p->sums, p->adam, p->scalars, p->thread, p->parties);
    else if (p->adam) aelab_adam(p->adam, p->start, p->end, p->scalars);
    else if (p->vae) aelab_vae_gradient(p->vae, p->vae_work, p->batch, p->noise, p->vae_sums);
    else aelab_dense_gradient(p->model, p->work, p->batch, p->sums);
}

static struct {
    pthread_once_t once;
    pthread_mutex_t own, lock;            /* own: one caller at a time; lock + wake: the sleeping helper */
    pthread_cond_t wake;
    atomic_int posted, done;
    atomic_int arrived, generation;       /* the barrier between the two threads of a column-split step */
    int started;                          /* 0 if the thread could not be created: both pieces run here */
    fenv_t env;
    piece job;
} helper = {PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void *helper_main(void *unused)
{
    (void) unused;
    for (;;) {
        for (long spins = 0; !atomic_load_explicit(&helper.posted, memory_order_acquire); spins++) {
            if (spins < SPINS_BEFORE_SLEEP) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&helper.lock);
            while (!atomic_load_explicit(&helper.posted, memory_order_acquire))
                pthread_cond_wait(&helper.wake, &helper.lock);
            pthread_mutex_unlock(&helper.lock);
        }
        atomic_store_explicit(&helper.posted, 0, memory_order_relaxed);
        fesetenv(&helper.env);
        run_piece(&helper.job);
        atomic_store_explicit(&helper.done, 1, memory_order_release);
    }
    return NULL;
}

static void start_helper(void)
{
    pthread_t thread;
    helper.started = pthread_create(&thread, NULL, helper_main, NULL) == 0;
    if (helper.started) pthread_detach(thread);
}

/* `theirs` on the helper and `mine` here, at once; returns when both are done (caller holds helper.own). */
static void both(const piece *theirs, const piece *mine)
{
    if (!helper.started) {
        run_piece(theirs);
        run_piece(mine);
        return;
    }
    helper.job = *theirs;
    atomic_store_explicit(&helper.done, 0, memory_order_relaxed);
    pthread_mutex_lock(&helper.lock);
    atomic_store_explicit(&helper.posted, 1, memory_order_release);
    pthread_cond_signal(&helper.wake);
    pthread_mutex_unlock(&helper.lock);
    run_piece(mine);
    while (!atomic_load_explicit(&helper.done, memory_order_acquire)) cpu_relax();
}

/* Two shares' gradients at once (`theirs` on the helper), then Adam on both threads, each updating half
 * the buffer and adding the two shares' gradients (adam->grad2). */
static void pair_then_adam(const piece *theirs, const piece *mine, const aelab_adam_buffers *adam,
                           const aelab_adam_scalars *scalars)
{
    const int64_t half = adam->size / 2;
    pthread_mutex_lock(&helper.own);
    pthread_once(&helper.once, start_helper);
    fegetenv(&helper.env);  /* the helper computes as this thread does (denormals flushed) */
    both(theirs, mine);
    both(&(piece){0, 0, 0, 0, adam, scalars, half, adam->size}, &(piece){0, 0, 0, 0, adam, scalars, 0, half});
    pthread_mutex_unlock(&helper.own);
}

void aelab_dense_step_pair(const aelab_dense_model *net, const aelab_dense_work *work0, const aelab_batch *batch0,
                           aelab_sums *sums0, const aelab_dense_work *work1, const aelab_batch *batch1,
                           aelab_sums *sums1, const aelab_adam_buffers *adam, const aelab_adam_scalars *scalars)
{
    pair_then_adam(&(piece){net, work1, batch1, sums1}, &(piece){net, work0, batch0, sums0}, adam, scalars);
}

void aelab_vae_step_pair(const aelab_vae_model *vae, const aelab_vae_work *work0, const aelab_batch *batch0,
                         const float *noise0, aelab_vae_sums *sums0, const aelab_vae_work *work1,
                         const aelab_batch *batch1, const float *noise1, aelab_vae_sums *sums1,
                         const aelab_adam_buffers *adam, const aelab_adam_scalars *scalars)
{
    pair_then_adam(&(piece){.vae = vae, .vae_work = work1, .batch = batch1, .noise = noise1, .vae_sums = sums1},
                   &(piece){.vae = vae, .vae_work = work0, .batch = batch0, .noise = noise0, .vae_sums = sums0}, adam,
                   scalars);
}

/* ---- Two threads by columns: each thread owns half of every layer's units --------------------------
 *
 * aelab_dense_step_pair splits a batch by rows: both threads read every weight and Adam adds two gradient
 * buffers. For a model whose parameters and moments outgrow one core's L2 cache (the deep model: 221,000
 * parameters, 3.5 MB with Adam's moments) that moves the weights between the cores every step. Here thread t
 * owns columns [c0, c1) of every layer's output: the rows c0…c1 of W_i (the columns of the first layer's
 * transposed weight), their biases and moments. It computes those columns of every activation (forward),
 * those rows of every weight gradient, and a partial ∂h_{i−1} = g_i[:, c0:c1]·W_i[c0:c1, :] that the two
 * threads add (backward), and updates its own parameters right after their gradient is computed, while it is
 * in cache (Adam, (E5)). Only activations and partials (≤ b × 784 floats) cross between the cores, at one
 * barrier per layer. The arithmetic is (E1)–(E6); only the order of two sums differs from the one-thread step
 * (∂h_{i−1} is two partial products added; the loss is summed per thread's columns). */

/* Both threads wait here until both arrive (a generation counter, spinning: a layer's work is microseconds). */
static void barrier(int parties)
{
    if (parties == 1) return;
    int generation = atomic_load_explicit(&helper.generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&helper.arrived, 1, memory_order_acq_rel) == parties - 1) {
        atomic_store_explicit(&helper.arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&helper.generation, 1, memory_order_release);
    } else {
        while (atomic_load_explicit(&helper.generation, memory_order_acquire) == generation) cpu_relax();
    }
}

/* Thread t's columns [*c0, *c1) of a layer `n` wide: halves cut on a 16-float (64-byte) boundary, so that the two
 * threads never write one cache line of a row (layers under 32 wide: plain halves). */
static void column_share(int64_t n, int t, int parties, int64_t *c0, int64_t *c1)
{
    const int64_t cut = parties == 1 ? n : (n >= 32 ? (n / 2 + 8) / 16 * 16 : n / 2);
    *c0 = t == 0 ? 0 : cut;
    *c1 = t == 0 ? cut : n;
}

/* Backward through a ReLU (E4) for columns [d0, d1) of a layer whose rows are `ld` apart, from the two threads'
 * partial products (either may be NULL: a thread with no columns in the layer above wrote none):
 *   g ← (p0 + p1 + add)·[h > 0],  bias_grad[j] = Σ over the rows of g   (add: the L1 term on the code, (E6)) */
static void relu_backward_partials(float *restrict g, const float *restrict h, const float *restrict p0,
                                   const float *restrict p1, int64_t rows, int64_t d0, int64_t d1, int64_t ld,
                                   float add, float *restrict bias_grad)
{
    for (int64_t j = d0; j < d1; j++) bias_grad[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = d0; j < d1; j++) {
            const int64_t at = i * ld + j;
            float sum = (p0 ? p0[at] : 0.0f) + (p1 ? p1[at] : 0.0f);
            float v = h[at] > 0.0f ? sum + add : 0.0f;   /* (E4) relu′, with (E6) the L1 subgradient on the code */
            g[at] = v;
            bias_grad[j] += v;
        }
    }
}

/* Thread t's share of a whole step (of `parties` threads; 1: the whole step on this thread). */
static void split_share(const aelab_dense_model *net, const aelab_split_work *work, const aelab_batch *batch,
                        aelab_sums *sums, const aelab_adam_buffers *adam, const aelab_adam_scalars *k, int t, int parties)
{
    const int b = (int) batch->rows;
    const int64_t last = net->layers - 1;
    float *grad = (float *) adam->grad;   /* the parameters are views of adam->params: offsets carry over to grad */
    int64_t c0, c1;
    sums->code_sum = 0.0;
    sums->bce = 0.0;
    for (int64_t i = 0; i < net->layers; i++) {  /* forward (E4): this thread's columns of every layer */
        const int n_in = (int) net->widths[i], n_out = (int) net->widths[i + 1];
        column_share(n_out, t, parties, &c0, &c1);
        const int nc = (int) (c1 - c0);
        if (nc > 0 && i == 0)  /* the first weight is stored (n_in, n_out): x·W[:, c0:c1] */
            gemm(net->sgemm, 0, 0, b, nc, n_in, batch->x, n_in, net->weights[0] + c0, n_out, work->acts[0] + c0, n_out);
        else if (nc > 0)
            gemm(net->sgemm, 0, 1, b, nc, n_in, work->acts[i - 1], n_in, net->weights[i] + c0 * n_in, n_in,
                 work->acts[i] + c0, n_out);
        if (nc > 0 && i < last) {
            double s = bias_relu_rows(work->acts[i] + c0, net->biases[i] + c0, batch->rows, nc, n_out);
            if (i == net->code_layer) sums->code_sum = s;
        }
        if (nc > 0 && i == last)  /* (E1), (E2) on this thread's pixels */
            bce_output_rows(work->acts[last] + c0, batch->target + c0, batch->rows, nc, n_out, net->biases[last] + c0,
                            batch->scale, work->grads[last] + c0, grad + (net->biases[last] - adam->params) + c0,
                            &sums->bce, NULL);
        if (i < last) barrier(parties);  /* the next layer reads every column of this one */
    }
    float *block = work->blocks[t];  /* a block of weight gradient, updated by Adam while it is in cache: never stored whole */
    for (int64_t i = last; i >= 0; i--) {  /* backward (E4), with Adam (E5) on this thread's rows of layer i */
        const int n_in = (int) net->widths[i], n_out = (int) net->widths[i + 1];
        const int64_t w_at = net->weights[i] - adam->params, b_at = net->biases[i] - adam->params;
        float *partial = work->partials[2 * t + (i & 1)];  /* two per thread, alternating: the other may still read the last */
        column_share(n_out, t, parties, &c0, &c1);
        const int nc = (int) (c1 - c0);
        if (nc > 0 && i == 0) {  /* W_0 is stored (n_in, n_out): blocks of its rows r, this thread's columns */
            const int64_t rows = AELAB_GRADIENT_BLOCK / nc > 0 ? AELAB_GRADIENT_BLOCK / nc : 1;
            for (int64_t r0 = 0; r0 < n_in; r0 += rows) {
                const int nr = (int) (r0 + rows < n_in ? rows : n_in - r0);
                gemm(net->sgemm, 1, 0, nr, nc, b, batch->x + r0, n_in, work->grads[0] + c0, n_out, block, nc);  /* ∂W_0 = xᵀ g */
                for (int64_t r = 0; r < nr; r++) adam_block(adam, w_at + (r0 + r) * n_out + c0, block + r * nc, nc, k);
            }
        } else if (nc > 0) {  /* blocks of this thread's rows of W_i (n_out, n_in) */
            const int64_t rows = AELAB_GRADIENT_BLOCK / n_in > 0 ? AELAB_GRADIENT_BLOCK / n_in : 1;
            for (int64_t r0 = c0; r0 < c1; r0 += rows) {
                const int nr = (int) (r0 + rows < c1 ? rows : c1 - r0);
                gemm_beta(net->sgemm, 0, 0, b, n_in, nr, work->grads[i] + r0, n_out, net->weights[i] + r0 * n_in, n_in,
                          r0 == c0 ? 0.0f : 1.0f, partial, n_in);       /* this thread's part of ∂h_{i−1} = g W_i, before W_i moves */
                gemm(net->sgemm, 1, 0, nr, n_in, b, work->grads[i] + r0, n_out, work->acts[i - 1], n_in, block, n_in);
                adam_block(adam, w_at + r0 * n_in, block, (int64_t) nr * n_in, k);  /* ∂W_i[r0:r1] = g[:, r0:r1]ᵀ h_{i−1} */
            }
        }
        if (nc > 0) aelab_adam(adam, b_at + c0, b_at + c1, k);
        if (i == 0) break;
        barrier(parties);  /* both parts of ∂h_{i−1} are written */
        int64_t mine0, mine1, other0, other1;
        column_share(n_out, 0, parties, &other0, &other1);  /* which threads wrote a part: those with columns here */
        const float *p0 = other1 > other0 ? work->partials[i & 1] : NULL;
        column_share(n_out, 1, parties, &other0, &other1);
        const float *p1 = parties == 2 && other1 > other0 ? work->partials[2 + (i & 1)] : NULL;
        column_share(n_in, t, parties, &mine0, &mine1);
        relu_backward_partials(work->grads[i - 1], work->acts[i - 1], p0, p1, batch->rows, mine0, mine1, n_in,
                               i - 1 == net->code_layer ? batch->l1_add : 0.0f, grad + (net->biases[i - 1] - adam->params));
    }
}

void aelab_dense_step_split(const aelab_dense_model *net, const aelab_split_work *work, const aelab_batch *batch,
                            aelab_sums *sums0, aelab_sums *sums1, const aelab_adam_buffers *adam,
                            const aelab_adam_scalars *scalars)
{
    pthread_mutex_lock(&helper.own);
    pthread_once(&helper.once, start_helper);
    fegetenv(&helper.env);
    if (helper.started) {
        both(&(piece){.model = net, .split = work, .batch = batch, .sums = sums1, .adam = adam, .scalars = scalars,
                      .thread = 1, .parties = 2},
             &(piece){.model = net, .split = work, .batch = batch, .sums = sums0, .adam = adam, .scalars = scalars,
                      .thread = 0, .parties = 2});
    } else {  /* no second thread could be started: the same step on this one */
        split_share(net, work, batch, sums0, adam, scalars, 0, 1);
        sums1->bce = sums1->code_sum = 0.0;
    }
    pthread_mutex_unlock(&helper.own);
}

/* ---- Many steps in one call ------------------------------------------------------------------------------
 *
 * Between two compiled steps the trainer's Python (slicing the batch, a dozen small tensor operations, the loss
 * bookkeeping) costs more than its instructions suggest: each step's streaming through the model's parameters and
 * moments evicts the interpreter's own working set from the caches. Measured on the deep model with two threads:
 * ~100 µs of Python per ~500 µs step. Here a run of steps gathers each batch's rows itself and sets Adam's bias
 * corrections itself, with the same arithmetic as the one-step calls, so a run equals the same steps taken one by
 * one bit for bit (tests/test_fused_chunks.py). */

/* Adam's bias corrections for step t (E5), rounded to float from double as FlatAdam.advance's Python floats are. */
static void adam_corrections(aelab_adam_scalars *k, double lr, double beta1, double beta2, int64_t t)
{
    k->step_size = (float) (lr / (1.0 - pow(beta1, (double) t)));
    k->bc2_sqrt = (float) sqrt(1.0 - pow(beta2, (double) t));
}

static void gather_rows(float *restrict out, const float *restrict data, const int64_t *restrict rows, int64_t n,
                        int64_t cols)
{
    for (int64_t i = 0; i < n; i++) memcpy(out + i * cols, data + rows[i] * cols, (size_t) cols * sizeof(float));
}

/* Step s of a run: its batch's rows gathered into c->x (and, with inputs, the clean targets into c->target), and
 * Adam's corrections for its step count. */
static void begin_step(const aelab_chunk *c, int64_t s, aelab_adam_scalars *scalars)
{
    const int64_t *rows = c->rows + s * c->batch;
    gather_rows(c->x, c->inputs ? c->inputs : c->data, rows, c->batch, c->cols);
    if (c->inputs) gather_rows(c->target, c->data, rows, c->batch, c->cols);
    adam_corrections(scalars, c->lr, c->beta1, c->beta2, c->first_step + s);
}

void aelab_dense_steps(const aelab_dense_model *net, const aelab_dense_plan *plan, const aelab_adam_buffers *adam,
                       aelab_adam_scalars *scalars, const aelab_chunk *c)
{
    for (int64_t s = 0; s < c->steps; s++) {
        begin_step(c, s, scalars);
        aelab_sums *sums = plan->sums;
        sums[1].bce = sums[1].code_sum = 0.0;
        if (plan->mode == AELAB_TWO_BY_COLUMNS) {
            aelab_dense_step_split(net, plan->split, plan->whole, &sums[0], &sums[1], adam, scalars);
        } else if (plan->mode == AELAB_TWO_BY_ROWS) {
            aelab_dense_step_pair(net, plan->work[0], plan->batch[0], &sums[0], plan->work[1], plan->batch[1], &sums[1],
                                  adam, scalars);
        } else {
            aelab_dense_gradient(net, plan->work[0], plan->batch[0], &sums[0]);
            aelab_adam(adam, 0, adam->size, scalars);
        }
        c->bce[s] = sums[0].bce + sums[1].bce;
        c->code_sum[s] = sums[0].code_sum + sums[1].code_sum;
    }
}

void aelab_vae_steps(const aelab_vae_model *vae, const aelab_vae_plan *plan, const aelab_adam_buffers *adam,
                     aelab_adam_scalars *scalars, const aelab_chunk *c)
{
    const int64_t k = vae->code_size;
    const int two = plan->mode == AELAB_TWO_BY_ROWS;
    for (int64_t s = 0; s < c->steps; s++) {
        const float *noise = c->noise + s * c->batch * k;
        begin_step(c, s, scalars);
        aelab_vae_sums *first = plan->sums[0], *second = plan->sums[1];
        if (two) {
            aelab_vae_step_pair(vae, plan->work[0], plan->batch[0], noise + plan->first_row[0] * k, first, plan->work[1],
                                plan->batch[1], noise + plan->first_row[1] * k, second, adam, scalars);
        } else {
            aelab_vae_gradient(vae, plan->work[0], plan->batch[0], noise, first);
            aelab_adam(adam, 0, adam->size, scalars);
        }
        c->bce[s] = two ? first->bce + second->bce : first->bce;
        c->kl[s] = two ? first->kl + second->kl : first->kl;
        for (int64_t j = 0; j < k; j++)
            c->kl_per_dim[s * k + j] = two ? first->kl_per_dim[j] + second->kl_per_dim[j] : first->kl_per_dim[j];
    }
}

/* Forward and backward of models first … end − 1 of a sweep (aelab_kernels.h). Groups of models
 * touch disjoint memory, so two groups can run at once on two threads. */
void aelab_sweep_part(const aelab_sweep *s, int64_t first_model, int64_t end_model, const aelab_batch *batch)
{
    const int b = (int) batch->rows, n_in = (int) s->widths[0], t = (int) s->total;
    const int64_t layers = s->layers, last = layers - 1, n_pixels = s->widths[layers];
    const int64_t c0 = s->column[first_model];
    const int cols = (int) (s->column[end_model - 1] + s->widths[(end_model - 1) * (layers + 1) + 1] - c0);
    gemm(s->sgemm, 0, 0, b, cols, n_in, batch->x, n_in, s->first_weight + c0, t, s->first + c0, t);  /* the group's first layers */
    bias_relu_rows(s->first + c0, s->first_bias + c0, batch->rows, cols, s->total);
    for (int64_t m = first_model; m < end_model; m++) {  /* forward, per model (E4) */
        const int64_t *w = s->widths + m * (layers + 1);
        for (int64_t i = 1; i < layers; i++) {
            const int in = (int) w[i], out = (int) w[i + 1];
            const float *below = i == 1 ? s->first + s->column[m] : s->acts[m * layers + i - 1];
            gemm(s->sgemm, 0, 1, b, out, in, below, i == 1 ? t : in, s->weights[m * layers + i], in,
                 s->acts[m * layers + i], out);
            if (i < last) aelab_bias_relu(s->acts[m * layers + i], s->biases[m * layers + i], 1, batch->rows, out);
        }
    }
    const int64_t k = first_model * layers + last;  /* the group's logits, biases, gradients: stacked from here */
    aelab_bce_output(s->acts[k], batch->target, end_model - first_model, batch->rows, n_pixels, s->biases[k],
                     batch->scale, s->grads[k], s->bias_grads[k], s->loss + first_model, s->sq + first_model);
    for (int64_t m = first_model; m < end_model; m++) {  /* backward, per model, down to its first-layer columns (E4) */
        const int64_t *w = s->widths + m * (layers + 1);
        for (int64_t i = last; i >= 1; i--) {
            const int in = (int) w[i], out = (int) w[i + 1];
            const int64_t j = m * layers + i;
            const float *below = i == 1 ? s->first + s->column[m] : s->acts[j - 1];
            const int ld_below = i == 1 ? t : in;
            float *g_below = i == 1 ? s->first_grad + s->column[m] : s->grads[j - 1];
            gemm(s->sgemm, 1, 0, out, in, b, s->grads[j], out, below, ld_below, s->weight_grads[j], in);  /* ∂W_i = gᵀ h_{i−1} */
            gemm(s->sgemm, 0, 0, b, in, out, s->grads[j], out, s->weights[j], in, g_below, ld_below);     /* ∂h_{i−1} = g W_i */
            if (i > 1) aelab_relu_backward(s->grads[j - 1], s->acts[j - 1], 1, batch->rows, in, 0.0f, s->bias_grads[j - 1]);
        }
    }
    relu_backward_rows(s->first_grad + c0, s->first + c0, batch->rows, cols, s->total, 0.0f, s->first_bias_grad + c0);
    gemm(s->sgemm, 1, 0, n_in, cols, b, batch->x, n_in, s->first_grad + c0, t, s->first_weight_grad + c0, t);  /* xᵀ g */
}

/* Adam (E5) over the parameters of models first … end − 1 of a sweep: their columns of the shared first layer (a block
 * of every row of the (n_in, total) weight) and its bias, then each model's later weights and biases. The parameters
 * are views of adam->params, whose offsets locate gradients and moments; two groups' ranges never overlap. */
static void sweep_adam(const aelab_sweep *s, int64_t first_model, int64_t end_model, const aelab_adam_buffers *adam,
                       const aelab_adam_scalars *k)
{
    const int64_t layers = s->layers, n_in = s->widths[0], total = s->total;
    const int64_t c0 = s->column[first_model], c1 = s->column[end_model - 1] + s->widths[(end_model - 1) * (layers + 1) + 1];
    const int64_t first = s->first_weight - adam->params, first_bias = s->first_bias - adam->params;
    for (int64_t r = 0; r < n_in; r++) aelab_adam(adam, first + r * total + c0, first + r * total + c1, k);
    aelab_adam(adam, first_bias + c0, first_bias + c1, k);
    for (int64_t m = first_model; m < end_model; m++) {
        const int64_t *w = s->widths + m * (layers + 1);
        for (int64_t i = 1; i < layers; i++) {
            const int64_t weight = s->weights[m * layers + i] - adam->params, bias = s->biases[m * layers + i] - adam->params;
            aelab_adam(adam, weight, weight + w[i + 1] * w[i], k);
            aelab_adam(adam, bias, bias + w[i + 1], k);
        }
    }
}

static void sweep_group(const aelab_sweep *s, int64_t first_model, int64_t end_model, const aelab_batch *batch,
                        const aelab_adam_buffers *adam, const aelab_adam_scalars *k)
{
    aelab_sweep_part(s, first_model, end_model, batch);
    sweep_adam(s, first_model, end_model, adam, k);
}

void aelab_sweep_step_pair(const aelab_sweep *sweep, int64_t split_model, const aelab_batch *batch,
                           const aelab_adam_buffers *adam, const aelab_adam_scalars *scalars)
{
    pthread_mutex_lock(&helper.own);
    pthread_once(&helper.once, start_helper);
    fegetenv(&helper.env);
    both(&(piece){.sweep = sweep, .batch = batch, .adam = adam, .scalars = scalars, .start = split_model, .end = sweep->models},
         &(piece){.sweep = sweep, .batch = batch, .adam = adam, .scalars = scalars, .start = 0, .end = split_model});
    pthread_mutex_unlock(&helper.own);
}

void aelab_sweep_steps(const aelab_sweep *sweep, int64_t split_model, const aelab_batch *batch,
                       const aelab_adam_buffers *adam, aelab_adam_scalars *scalars, const aelab_chunk *c)
{
    const int64_t models = sweep->models;
    for (int64_t s = 0; s < c->steps; s++) {
        begin_step(c, s, scalars);
        if (split_model > 0) {
            aelab_sweep_step_pair(sweep, split_model, batch, adam, scalars);
        } else {
            aelab_sweep_part(sweep, 0, models, batch);
            aelab_adam(adam, 0, adam->size, scalars);
        }
        memcpy(c->bce + s * models, sweep->loss, (size_t) models * sizeof(double));
        memcpy(c->code_sum + s * models, sweep->sq, (size_t) models * sizeof(double));
    }
}

const char *aelab_isa(void)
{
#if defined(__AVX512F__)
    return "x86-64 avx512f";
#elif defined(__AVX2__)
    return "x86-64 avx2";
#elif defined(__AVX__)
    return "x86-64 avx";
#elif defined(__x86_64__)
    return "x86-64 sse2";
#elif defined(__ARM_FEATURE_SVE)
    return "aarch64 sve";
#elif defined(__ARM_NEON)
    return "aarch64 neon";
#else
    return "generic";
#endif
}

int aelab_library_of(const void *function, char *path, int64_t size)
{
    Dl_info info;
    if (size < 1 || !dladdr(function, &info) || !info.dli_fname) return 0;
    strncpy(path, info.dli_fname, (size_t) size - 1);
    path[size - 1] = '\0';
    return 1;
}
