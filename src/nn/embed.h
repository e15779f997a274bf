// embed.h: the layers that turn images, timesteps and tokens into sequences.
// Images are float (B, H, W, CH) channel-last (HWC), as the renderer writes them.
#ifndef CGRPO_NN_EMBED_H
#define CGRPO_NN_EMBED_H

// Patchify: img (B, H, W, CH) -> tokens (B, T, P*P*CH), T = (H/P)(W/P), patches in row-major order,
// features ordered (py, px, ch). H and W must be multiples of P.
void patchify_forward(float *tokens, const float *img, int B, int H, int W, int CH, int P);
void patchify_backward(float *dimg, const float *dtokens, int B, int H, int W, int CH, int P);
// Unpatchify: the exact inverse, tokens (B, T, P*P*CH) -> img (B, H, W, CH).
void unpatchify_forward(float *img, const float *tokens, int B, int H, int W, int CH, int P);
void unpatchify_backward(float *dtokens, const float *dimg, int B, int H, int W, int CH, int P);

// Sinusoidal timestep embedding (DiT/ADM convention): t (B) -> out (B, D), D even,
// half = D/2, freq_i = exp(-log(max_period) i / half), out = [cos(t freq), sin(t freq)].
// Callers pass t already scaled (e.g. sigma * 1000).
void timestep_embedding_forward(float *out, const float *t, int B, int D, float max_period);
// dt (B) accumulates the derivative with respect to t (the embedding has no weights).
void timestep_embedding_backward(float *dt, const float *dout, const float *t, int B, int D, float max_period);

// Token embedding: out (B, T, C) = table[tokens[b, t]];  table (V, C), tokens (B, T) in [0, V).
void embedding_forward(float *out, const int *tokens, const float *table, int B, int T, int C);
void embedding_backward(float *dtable, const float *dout, const int *tokens, int B, int T, int C);

#endif
