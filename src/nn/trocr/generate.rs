//! Decoding with the semantics of transformers' `generate`: greedy search and beam search
//! (`num_beams`, `length_penalty`, `early_stopping`, `max_new_tokens`, `min_new_tokens`),
//! a self-attention cache, and cross-attention keys and values computed once per image.
//!
//! The network runs on the device; choosing tokens (a few numbers per row) happens here on
//! the host, mirroring transformers' vectorised beam search step by step.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{DataError, Device, Int, Tensor, TensorData};

use crate::cancel::CancelToken;
use crate::{Error, Result};

use super::TrocrModel;
use super::kv_cache::SelfAttentionCache;

/// How to decode (the decoding fields of a `GenerationConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// 1: greedy search.
    pub num_beams: usize,
    /// Tokens generated after the start token at most (eos included).
    pub max_new_tokens: usize,
    /// Eos is suppressed until this many tokens were generated.
    pub min_new_tokens: usize,
    /// Finished beams score `sum(log p) / generated_len^length_penalty`.
    pub length_penalty: f32,
    /// Beam search stops as soon as `num_beams` hypotheses finished.
    pub early_stopping: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            num_beams: 1,
            max_new_tokens: 19,
            min_new_tokens: 0,
            length_penalty: 1.0,
            early_stopping: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    pub decoder_start: u32,
    pub eos: u32,
    pub pad: u32,
}

/// One decoded line.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// As transformers returns them: the start token first, eos last when produced, no padding.
    pub ids: Vec<u32>,
    /// `token_probs[i]`: the softmax probability of `ids[i + 1]` when it was chosen (greedy:
    /// of the processed scores, as transformers' `scores`; beam: `exp` of its log-softmax).
    pub token_probs: Vec<f32>,
}

/// Decodes every image of `encoder_states` (`[B, S, C]`, the encoder's output);
/// [`Error::Cancelled`] once `cancel` is (checked before each decoding step).
pub fn generate(
    model: &TrocrModel,
    encoder_states: Tensor<3>,
    opts: &GenerateOptions,
    tokens: &SpecialTokens,
    cancel: &CancelToken,
) -> Result<Vec<Generated>> {
    let batch = encoder_states.dims()[0];
    // Positions past the learned table do not exist; transformers would fail there too.
    let max_new = opts
        .max_new_tokens
        .min(model.max_positions().saturating_sub(1));
    if batch == 0 {
        return Ok(Vec::new());
    }
    if max_new == 0 {
        return Ok(vec![
            Generated {
                ids: vec![tokens.decoder_start],
                token_probs: Vec::new()
            };
            batch
        ]);
    }
    let opts = GenerateOptions {
        max_new_tokens: max_new,
        ..opts.clone()
    };
    if opts.num_beams <= 1 {
        greedy(model, encoder_states, &opts, tokens, cancel)
    } else {
        beam_search(model, encoder_states, &opts, tokens, cancel)
    }
}

fn greedy(
    model: &TrocrModel,
    encoder_states: Tensor<3>,
    opts: &GenerateOptions,
    tokens: &SpecialTokens,
    cancel: &CancelToken,
) -> Result<Vec<Generated>> {
    let device = encoder_states.device();
    let batch = encoder_states.dims()[0];
    let cross = model.cross_keys_values(encoder_states, cancel)?;
    let mut cache = model.new_cache();
    let mut lines: Vec<Generated> = (0..batch)
        .map(|_| Generated {
            ids: vec![tokens.decoder_start],
            token_probs: Vec::new(),
        })
        .collect();
    let mut finished = vec![false; batch];
    let mut last: Vec<u32> = vec![tokens.decoder_start; batch];
    for step in 0..opts.max_new_tokens {
        cancel.check()?;
        let logits = last_logits(model, &last, &cross, &mut cache, cancel)?;
        let vocab = logits.dims()[1];
        // The probabilities are those of the processed scores, as transformers reports them
        // (with eos suppressed, the other tokens share its mass).
        let scores = logits + eos_bias(step, opts, tokens.eos, batch, vocab, &device);
        let chosen = scores.clone().argmax(1);
        let probs = softmax(scores, 1).gather(1, chosen.clone());
        let chosen = int_values(chosen, "chosen tokens")?;
        let probs = float_values(probs, "token probabilities")?;
        for row in 0..batch {
            // Finished rows keep running (padded) as in transformers, but add nothing.
            if finished[row] {
                last[row] = tokens.pad;
                continue;
            }
            let id = chosen[row] as u32;
            lines[row].ids.push(id);
            lines[row].token_probs.push(probs[row]);
            last[row] = id;
            finished[row] = id == tokens.eos;
        }
        if finished.iter().all(|&f| f) {
            break;
        }
    }
    Ok(lines)
}

/// Runs one decoder step on the last token of every row; returns logits `[rows, vocab]`.
fn last_logits(
    model: &TrocrModel,
    last: &[u32],
    cross: &super::kv_cache::CrossKeysValues,
    cache: &mut SelfAttentionCache,
    cancel: &CancelToken,
) -> Result<Tensor<2>> {
    let ids: Vec<i64> = last.iter().map(|&id| i64::from(id)).collect();
    let device = model.decoder.embed_tokens.weight.device();
    let input = Tensor::<1, Int>::from_data(TensorData::new(ids, [last.len()]), &device)
        .unsqueeze_dim::<2>(1);
    let logits = model.decoder.forward(input, cross, cache, cancel)?;
    let [rows, _, vocab] = logits.dims();
    Ok(logits.reshape([rows, vocab]))
}

/// `-inf` on eos while fewer than `min_new_tokens` were generated
/// (`MinNewTokensLengthLogitsProcessor`), zero elsewhere; `[rows, vocab]`.
fn eos_bias(
    generated: usize,
    opts: &GenerateOptions,
    eos: u32,
    rows: usize,
    vocab: usize,
    device: &Device,
) -> Tensor<2> {
    let mut bias = vec![0.0f32; vocab];
    if generated < opts.min_new_tokens
        && let Some(cell) = bias.get_mut(eos as usize)
    {
        *cell = f32::NEG_INFINITY;
    }
    Tensor::<1>::from_data(TensorData::new(bias, [vocab]), device)
        .unsqueeze::<2>()
        .expand([rows, vocab])
}

/// transformers marks impossible scores with this instead of -inf.
const IMPOSSIBLE: f32 = -1.0e9;

/// A partial or finished hypothesis of one batch item.
#[derive(Debug, Clone)]
struct Hypothesis {
    /// Generated tokens (without the start token).
    tokens: Vec<u32>,
    /// Log-probability of each generated token.
    log_probs: Vec<f32>,
}

/// Beam-search state of one batch item.
struct BeamItem {
    /// Running hypotheses and their (penalised) accumulated log-probabilities, best first.
    running: Vec<(f32, Hypothesis)>,
    /// Finished hypotheses with their length-normalised scores, best first, at most `num_beams`.
    finished: Vec<(f32, Hypothesis)>,
    /// transformers' `is_early_stop_heuristic_unsatisfied`: finished beams may still improve.
    may_improve: bool,
}

/// A candidate continuation: accumulated score, source beam, token.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    score: f32,
    beam: usize,
    token: u32,
}

fn beam_search(
    model: &TrocrModel,
    encoder_states: Tensor<3>,
    opts: &GenerateOptions,
    tokens: &SpecialTokens,
    cancel: &CancelToken,
) -> Result<Vec<Generated>> {
    let device = encoder_states.device();
    let batch = encoder_states.dims()[0];
    let beams = opts.num_beams;
    let cross = model
        .cross_keys_values(encoder_states, cancel)?
        .repeat_each(beams);
    let mut cache = model.new_cache();
    let empty = Hypothesis {
        tokens: Vec::new(),
        log_probs: Vec::new(),
    };
    let mut items: Vec<BeamItem> = (0..batch)
        .map(|_| BeamItem {
            // Only the first beam is live at the start; the copies would repeat it.
            running: (0..beams)
                .map(|b| (if b == 0 { 0.0 } else { IMPOSSIBLE }, empty.clone()))
                .collect(),
            finished: Vec::new(),
            may_improve: true,
        })
        .collect();
    // Start token plus generated tokens, as transformers counts `cur_len`.
    let max_length = 1 + opts.max_new_tokens;
    let mut cur_len = 1;
    loop {
        cancel.check()?;
        let last: Vec<u32> = items
            .iter()
            .flat_map(|item| {
                item.running
                    .iter()
                    .map(|(_, h)| *h.tokens.last().unwrap_or(&tokens.decoder_start))
            })
            .collect();
        let candidates = top_candidates(
            model,
            &last,
            &cross,
            &mut cache,
            &items,
            cur_len - 1,
            opts,
            tokens,
            cancel,
        )?;
        let reaches_max = cur_len + 1 >= max_length;
        let mut all_hit = true;
        let mut source_rows = Vec::with_capacity(batch * beams);
        for (index, (item, cands)) in items.iter_mut().zip(&candidates).enumerate() {
            let hits: Vec<bool> = cands
                .iter()
                .map(|c| reaches_max || c.token == tokens.eos)
                .collect();
            all_hit &= hits.iter().all(|&h| h);
            let next_running = next_running(item, cands, &hits, beams);
            let stop_adding =
                !item.may_improve || (opts.early_stopping && item.finished.len() == beams);
            if !stop_adding {
                add_finished(item, cands, &hits, beams, cur_len, opts.length_penalty);
            }
            source_rows.extend(next_running.iter().map(|(beam, _, _)| index * beams + beam));
            item.running = next_running
                .into_iter()
                .map(|(_, score, hyp)| (score, hyp))
                .collect();
        }
        let rows: Vec<i64> = source_rows.iter().map(|&r| r as i64).collect();
        cache.select_rows(Tensor::from_data(
            TensorData::new(rows, [source_rows.len()]),
            &device,
        ));
        cur_len += 1;
        for item in &mut items {
            update_may_improve(item, beams, cur_len, opts);
        }
        let improvement_possible = items.iter().any(|item| item.may_improve);
        let all_finished = items.iter().all(|item| item.finished.len() == beams);
        if !improvement_possible || (all_finished && opts.early_stopping) || all_hit {
            break;
        }
    }
    Ok(items
        .into_iter()
        .map(|item| best_line(item, tokens.decoder_start))
        .collect())
}

/// The `2 * num_beams` best continuations of each item over all its beams, best first.
#[allow(clippy::too_many_arguments)]
fn top_candidates(
    model: &TrocrModel,
    last: &[u32],
    cross: &super::kv_cache::CrossKeysValues,
    cache: &mut SelfAttentionCache,
    items: &[BeamItem],
    generated: usize,
    opts: &GenerateOptions,
    tokens: &SpecialTokens,
    cancel: &CancelToken,
) -> Result<Vec<Vec<Candidate>>> {
    let beams = opts.num_beams;
    let rows = last.len();
    let logits = last_logits(model, last, cross, cache, cancel)?;
    let device = &logits.device();
    let vocab = logits.dims()[1];
    let scores: Vec<f32> = items
        .iter()
        .flat_map(|item| item.running.iter().map(|(s, _)| *s))
        .collect();
    let scores = Tensor::<1>::from_data(TensorData::new(scores, [rows]), device)
        .unsqueeze_dim::<2>(1)
        .expand([rows, vocab]);
    let accumulated = log_softmax(logits, 1)
        + eos_bias(generated, opts, tokens.eos, rows, vocab, device)
        + scores;
    let keep = (2 * beams).min(beams * vocab);
    let (values, indices) = accumulated
        .reshape([items.len(), beams * vocab])
        .topk_with_indices(keep, 1);
    let values = float_values(values, "beam scores")?;
    let indices = int_values(indices, "beam tokens")?;
    Ok(values
        .chunks(keep)
        .zip(indices.chunks(keep))
        .map(|(vals, idxs)| {
            vals.iter()
                .zip(idxs)
                .map(|(&score, &index)| Candidate {
                    score,
                    beam: index as usize / vocab,
                    token: (index as usize % vocab) as u32,
                })
                .collect()
        })
        .collect())
}

/// The `num_beams` best candidates that did not stop (stopped ones are penalised, as in
/// transformers, and only chosen when too few remain): `(source beam, score, hypothesis)`.
fn next_running(
    item: &BeamItem,
    cands: &[Candidate],
    hits: &[bool],
    beams: usize,
) -> Vec<(usize, f32, Hypothesis)> {
    let mut order: Vec<(f32, usize)> = cands
        .iter()
        .zip(hits)
        .enumerate()
        .map(|(i, (c, &hit))| (if hit { c.score + IMPOSSIBLE } else { c.score }, i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    order
        .into_iter()
        .take(beams)
        .map(|(score, i)| {
            let c = cands[i];
            (c.beam, score, extend(item, c))
        })
        .collect()
}

/// The source hypothesis of `c` with its token appended.
fn extend(item: &BeamItem, c: Candidate) -> Hypothesis {
    let (source_score, source) = &item.running[c.beam];
    let mut hyp = source.clone();
    hyp.tokens.push(c.token);
    hyp.log_probs.push(c.score - source_score);
    hyp
}

/// Adds the stopped candidates among the first `num_beams` to the finished set, scored
/// `sum(log p) / generated_len^length_penalty`, keeping the `num_beams` best.
fn add_finished(
    item: &mut BeamItem,
    cands: &[Candidate],
    hits: &[bool],
    beams: usize,
    cur_len: usize,
    length_penalty: f32,
) {
    let generated_len = cur_len as f32; // cur_len + 1 - prompt length (1)
    let norm = generated_len.powf(length_penalty);
    let new: Vec<(f32, Hypothesis)> = cands
        .iter()
        .zip(hits)
        .take(beams)
        .filter(|(_, hit)| **hit)
        .map(|(c, _)| (c.score / norm, extend(item, *c)))
        .collect();
    if new.is_empty() {
        return;
    }
    item.finished.extend(new);
    item.finished.sort_by(|a, b| b.0.total_cmp(&a.0));
    item.finished.truncate(beams);
}

/// transformers' early-stop heuristic: once `num_beams` hypotheses finished, the best
/// running one (length-normalised at its current length) must still beat the worst finished.
fn update_may_improve(item: &mut BeamItem, beams: usize, cur_len: usize, opts: &GenerateOptions) {
    if !item.may_improve || item.finished.len() < beams {
        return;
    }
    let best_running = item.running.first().map_or(IMPOSSIBLE, |(s, _)| *s);
    let best_possible = best_running / ((cur_len - 1) as f32).powf(opts.length_penalty);
    let worst_finished = item
        .finished
        .iter()
        .map(|(s, _)| *s)
        .fold(f32::INFINITY, f32::min);
    item.may_improve = best_possible > worst_finished;
}

/// The best finished hypothesis (or the best running one if none finished).
fn best_line(item: BeamItem, start: u32) -> Generated {
    let best = item
        .finished
        .into_iter()
        .next()
        .or_else(|| item.running.into_iter().next())
        .map(|(_, h)| h)
        .unwrap_or(Hypothesis {
            tokens: Vec::new(),
            log_probs: Vec::new(),
        });
    let mut ids = vec![start];
    ids.extend(best.tokens);
    Generated {
        ids,
        token_probs: best.log_probs.iter().map(|lp| lp.exp()).collect(),
    }
}

/// A decoder output on the host; a failed read is an error, not an empty list that a later
/// index would turn into a panic.
fn float_values<const D: usize>(t: Tensor<D>, what: &str) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|source| read_error(what, source))
}

fn int_values<const D: usize>(t: Tensor<D, Int>, what: &str) -> Result<Vec<i64>> {
    t.into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|source| read_error(what, source))
}

fn read_error(what: &str, source: DataError) -> Error {
    Error::TensorData {
        what: format!("TrOCR decoding: {what}"),
        source,
    }
}
