/* The typed boundary between Python and kernels.c: every type and function Python may call.
 *
 * native/ffibuild.py hands this file to cffi twice: as the declarations Python sees (cdef) and as
 * the header the compiled module includes, so a mismatch between the two sides is a build error,
 * not silent memory corruption. cffi's parser reads no preprocessor lines: the includes stay in
 * kernels.c, and constants are enums. Arrays are row-major float32, contiguous unless a row stride
 * says otherwise. The formulas are in docs/engine.md.
 */

/* The Fortran-convention sgemm, as scipy.linalg.cython_blas exports it (column-major, every argument by pointer). */
typedef void (*aelab_sgemm)(char *transa, char *transb, int *m, int *n, int *k, float *alpha, float *a, int *lda,
                            float *b, int *ldb, float *beta, float *c, int *ldc);

enum { AELAB_MAX_LAYERS = 16, AELAB_GRADIENT_BLOCK = 8192 };

/* Adam's per-step numbers (docs/engine.md (E5)): β1, β2, 1 − β1 and 1 − β2 (each rounded once from
 * double, as torch.optim.Adam's Python floats are: 1 − (float) 0.999 is 1.3e-5 off), ε, lr/(1 − β1ᵗ), √(1 − β2ᵗ). */
typedef struct {
    float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size, bc2_sqrt;
} aelab_adam_scalars;

/* One flat parameter buffer with Adam's moments; the gradient is grad (+ grad2 when not NULL: the
 * second thread's share of a batch). All of `size` floats. */
typedef struct {
    float *params, *exp_avg, *exp_avg_sq;
    const float *grad, *grad2;
    int64_t size;
} aelab_adam_buffers;

/* A dense autoencoder: `layers` Linear layers (widths[0] → … → widths[layers]) with ReLU between
 * them and logits out; layer `code_layer`'s output is the code (the L1 term's argument). */
typedef struct {
    aelab_sgemm sgemm;
    int64_t layers, code_layer;
    int64_t widths[17];                    /* AELAB_MAX_LAYERS + 1 */
    const float *weights[16];              /* [0] stored transposed (n_in, n_out); the others (n_out, n_in) */
    const float *biases[16];
} aelab_dense_model;

/* One thread's buffers for its share of a batch (up to `capacity` rows) and the gradient it writes. */
typedef struct {
    int64_t capacity;
    float *acts[16];                       /* (rows, widths[i + 1]): layer outputs; the last, the logits before the bias */
    float *grads[16];                      /* (rows, widths[i + 1]): ∂loss/∂(pre-activation) */
    float *weight_grads[16];               /* views of one flat gradient buffer, in the weights' layouts */
    float *bias_grads[16];
} aelab_dense_work;

/* A share of one batch: its rows of inputs and clean targets, and the whole batch's factors. */
typedef struct {
    const float *x, *target;
    int64_t rows;
    float scale;                           /* 1/(b·D) for the whole batch: the mean BCE's gradient factor */
    float l1_add;                          /* ∂(L1 term)/∂(code) for the whole batch; 0 without the term */
} aelab_batch;

/* The buffers of a whole-batch step split by columns between two threads (aelab_dense_step_split): each layer's
 * output and ∂loss/∂(pre-activation), (rows, widths[i + 1]), of which each thread writes its columns; four
 * (rows, the widest layer input) buffers, two per thread, for its part of ∂h below each layer; and per thread a
 * block of weight gradient (AELAB_GRADIENT_BLOCK floats), updated by Adam as soon as it is computed. */
typedef struct {
    int64_t capacity;
    float *acts[16];
    float *grads[16];
    float *partials[4];                    /* [2·thread + layer parity] */
    float *blocks[2];                      /* [thread] */
} aelab_split_work;

/* A dense VAE (docs/engine.md (E7)–(E9)): an encoder whose last layer is the head, (…, 2k) outputs
 * without ReLU, columns [0, k) the mean and [k, 2k) the log-variance; a decoder from the code (k) to the
 * logits. Each is laid out as aelab_dense_model (first weight stored transposed; code_layer −1: no L1). */
typedef struct {
    aelab_dense_model encoder, decoder;
    int64_t code_size;                     /* k */
    float beta;                            /* the KL term's weight β */
} aelab_vae_model;

/* A VAE's buffers for one batch (encoder.acts[last]: μ and log σ² after the step; code: the sample z). */
typedef struct {
    aelab_dense_work encoder, decoder;
    float *code, *code_grad;               /* (rows, k): z and ∂loss/∂z */
} aelab_vae_work;

/* What a VAE step sums over its rows: Σ BCE over rows × pixels, Σ KL, and Σ KL per code dimension (k). */
typedef struct {
    double bce, kl;
    double *kl_per_dim;
} aelab_vae_sums;

/* What a step or an evaluation sums over its rows. */
typedef struct {
    double bce;                            /* Σ BCE over rows × pixels */
    double code_sum;                       /* Σ of the code's activations (≥ 0): the L1 term's Σ|h| */
} aelab_sums;

/* How a dense step runs (aelab_dense_steps): its mode and the structs that mode's call takes, pointed once at the
 * chunk's gather buffers. */
enum { AELAB_ONE_THREAD = 0, AELAB_TWO_BY_ROWS = 1, AELAB_TWO_BY_COLUMNS = 2 };
typedef struct {
    int64_t mode;
    const aelab_dense_work *work[2];       /* one thread, or by rows: each share's buffers */
    const aelab_batch *batch[2];           /* … and its rows of the gather buffers */
    const aelab_split_work *split;         /* by columns */
    const aelab_batch *whole;              /* by columns: the whole batch */
    aelab_sums *sums;                      /* two */
} aelab_dense_plan;

/* A run of whole training steps in one call (aelab_dense_steps): step s trains on rows rows[s·batch … (s+1)·batch)
 * of `data` (the clean targets) with `inputs`' rows as the model's inputs (NULL: the targets), gathered into x and
 * target (batch × cols each; target unused without inputs), Adam's step count t = first_step + s (docs/engine.md
 * (E5): its bias corrections from lr, β1, β2), and writes the step's Σ BCE and Σ code into bce[s], code_sum[s]. */
typedef struct {
    const float *data, *inputs;
    int64_t cols;
    const int64_t *rows;
    int64_t steps, batch, first_step;
    float *x, *target;
    double lr, beta1, beta2;
    double *bce, *code_sum;
    const float *noise;                    /* a VAE's: ε of step s at noise + s·batch·k */
    double *kl, *kl_per_dim;               /* a VAE's: Σ KL of step s at kl[s], per code dimension at kl_per_dim + s·k */
} aelab_chunk;

/* The models of a sweep sharing one input: the first layers as one (n_in, total) block whose output
 * `first` (b, total) holds model m's units in columns [column[m], column[m] + width); per model m and
 * layer i ≥ 1 (index m·layers + i) its weight (n_out, n_in), bias, their gradients, output `acts` and
 * ∂loss/∂(pre-activation) `grads`. The last layers' outputs (models, b, D), biases and bias gradients
 * (models, D) are stacked. widths[m·(layers + 1) + i]: model m's widths. loss[m], sq[m] receive Σ BCE
 * and Σ (σ − x)². */
typedef struct {
    aelab_sgemm sgemm;
    int64_t models, layers, total;
    const int64_t *widths, *column;
    const float *first_weight, *first_bias;
    float *first_weight_grad, *first_bias_grad, *first, *first_grad;
    float **weights, **weight_grads, **biases, **bias_grads, **acts, **grads;
    double *loss, *sq;
} aelab_sweep;

/* A dense model's forward pass, BCE-from-logits loss, backward pass into `work`'s gradient, for the
 * batch share's rows. Adam is separate (aelab_adam), so that two shares can be summed first. */
void aelab_dense_gradient(const aelab_dense_model *model, const aelab_dense_work *work, const aelab_batch *batch,
                          aelab_sums *sums);
/* A whole step on two threads: the gradients of two shares of a batch at once (share 1 on a helper
 * thread that waits for work spinning: a hand-off costs ~1 µs, not the tens of µs of waking a sleeping
 * thread), then Adam with `adam->grad2` = share 1's gradient, each thread updating half the buffer.
 * The helper takes on the caller's floating-point environment (denormals flushed). */
void aelab_dense_step_pair(const aelab_dense_model *model, const aelab_dense_work *work0, const aelab_batch *batch0,
                           aelab_sums *sums0, const aelab_dense_work *work1, const aelab_batch *batch1,
                           aelab_sums *sums1, const aelab_adam_buffers *adam, const aelab_adam_scalars *scalars);
/* A whole step on two threads split by columns (kernels.c, "Two threads by columns"): thread t computes its half
 * of every layer's units forward and backward and updates its own parameters with Adam (adam->grad receives the
 * biases' gradients only; adam->grad2 unused). The model's weights and biases must be views of adam->params,
 * whose offsets locate their moments. sums0/sums1: each thread's share of the sums. Without a second thread the
 * whole step runs on the caller's. */
void aelab_dense_step_split(const aelab_dense_model *model, const aelab_split_work *work, const aelab_batch *batch,
                            aelab_sums *sums0, aelab_sums *sums1, const aelab_adam_buffers *adam,
                            const aelab_adam_scalars *scalars);
/* chunk->steps whole steps of a dense model, each as `plan` says (one thread: aelab_dense_gradient then Adam; two by
 * rows: aelab_dense_step_pair; two by columns: aelab_dense_step_split): no Python between the steps. `scalars` ends
 * holding the last step's bias corrections. */
void aelab_dense_steps(const aelab_dense_model *model, const aelab_dense_plan *plan, const aelab_adam_buffers *adam,
                       aelab_adam_scalars *scalars, const aelab_chunk *chunk);
/* The same forward pass and loss without a gradient (evaluation). */
void aelab_dense_loss(const aelab_dense_model *model, const aelab_dense_work *work, const aelab_batch *batch,
                      aelab_sums *sums);
/* Forward and backward of models first … end − 1 of a sweep (Adam is separate). */
void aelab_sweep_part(const aelab_sweep *sweep, int64_t first_model, int64_t end_model, const aelab_batch *batch);
/* chunk->steps whole steps of a sweep (one thread: aelab_sweep_part then Adam over every parameter; or split_model
 * > 0: aelab_sweep_step_pair), as aelab_dense_steps; each step's Σ BCE and Σ (σ − x)² per model go to
 * chunk->bce + s·models and chunk->code_sum + s·models. */
void aelab_sweep_steps(const aelab_sweep *sweep, int64_t split_model, const aelab_batch *batch,
                       const aelab_adam_buffers *adam, aelab_adam_scalars *scalars, const aelab_chunk *chunk);
/* A whole sweep step on two threads: models [0, split_model) here and [split_model, models) on the helper thread (as
 * aelab_dense_step_pair's), each group's forward and backward (aelab_sweep_part) then Adam on that group's own
 * parameters (adam->grad2 unused; the sweep's parameters must be views of adam->params). */
void aelab_sweep_step_pair(const aelab_sweep *sweep, int64_t split_model, const aelab_batch *batch,
                           const aelab_adam_buffers *adam, const aelab_adam_scalars *scalars);
/* How a VAE step runs (aelab_vae_steps): one thread, or two by rows (each share's buffers, batch rows, sums and
 * its first row, where its rows of ε start). */
typedef struct {
    int64_t mode;                          /* AELAB_ONE_THREAD or AELAB_TWO_BY_ROWS */
    const aelab_vae_work *work[2];
    const aelab_batch *batch[2];
    aelab_vae_sums *sums[2];
    int64_t first_row[2];
} aelab_vae_plan;

/* chunk->steps whole steps of a dense VAE (aelab_vae_gradient then Adam, or aelab_vae_step_pair), as aelab_dense_steps
 * for a dense model, with each step's ε from chunk->noise; writes Σ BCE, Σ KL and Σ KL per dimension per step. */
void aelab_vae_steps(const aelab_vae_model *model, const aelab_vae_plan *plan, const aelab_adam_buffers *adam,
                     aelab_adam_scalars *scalars, const aelab_chunk *chunk);
/* A dense VAE's forward pass, loss (BCE summed over pixels + β·KL, mean over images: batch->scale = 1/b)
 * and backward pass into `work`'s gradients, with the noise ε (rows, k) of z = μ + exp(½ log σ²)·ε. */
void aelab_vae_gradient(const aelab_vae_model *model, const aelab_vae_work *work, const aelab_batch *batch,
                        const float *noise, aelab_vae_sums *sums);
/* A whole VAE step on two threads, as aelab_dense_step_pair: each share of the batch (its rows, its noise
 * rows, its sums; batch->scale the whole batch's 1/b) on one thread, then Adam adding both gradients. */
void aelab_vae_step_pair(const aelab_vae_model *model, const aelab_vae_work *work0, const aelab_batch *batch0,
                         const float *noise0, aelab_vae_sums *sums0, const aelab_vae_work *work1,
                         const aelab_batch *batch1, const float *noise1, aelab_vae_sums *sums1,
                         const aelab_adam_buffers *adam, const aelab_adam_scalars *scalars);
/* Adam over [start, end) of the flat buffer (docs/engine.md (E5)). */
void aelab_adam(const aelab_adam_buffers *buffers, int64_t start, int64_t end, const aelab_adam_scalars *scalars);

/* The elementwise passes, exported for the tests that check them against PyTorch's formulas. */
void aelab_bce_output(const float *z, const float *x, int64_t models, int64_t rows, int64_t cols, const float *bias,
                      float scale, float *grad, float *bias_grad, double *loss, double *sq);
void aelab_bce_sums(const float *z, const float *x, const float *bias, int64_t models, int64_t rows, int64_t cols,
                    double *loss, double *sq);
double aelab_bce_probabilities(const float *p, const float *x, int64_t rows, int64_t cols, float clip);
double aelab_bias_relu(float *h, const float *bias, int64_t models, int64_t rows, int64_t cols);
void aelab_relu_backward(float *g, const float *h, int64_t models, int64_t rows, int64_t cols, float add,
                         float *bias_grad);

/* The vector instruction set the kernels were compiled for ("avx512f", "avx2", "neon", …). */
const char *aelab_isa(void);
/* The file of the shared library that holds `function` (dladdr), copied into path; 0 if unknown. */
int aelab_library_of(const void *function, char *path, int64_t size);
