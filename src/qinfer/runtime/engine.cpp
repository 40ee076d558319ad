#include "qinfer/runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/threads.h"
#include "qinfer/runtime/context_checks.h"

namespace qinfer {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int engine_context(const ModelConfig& c, const EngineParams& p) {
  const int n = p.n_ctx > 0 ? p.n_ctx : std::min(c.n_ctx_train, 4096);
  if (n <= 0 || n > (1 << 22)) throw InputError("context size " + std::to_string(n) + " is invalid");
  return n;
}

EngineParams checked(const EngineParams& p) {
  if (p.max_seqs < 1) throw InputError("the engine needs at least one sequence slot (max_seqs)");
  if (p.prefill_chunk < 1) throw InputError("--prefill-chunk must be at least 1");
  if (p.kv_block <= 0 || p.kv_block % kernels::kKeyTile != 0)
    throw InputError("--kv-block " + std::to_string(p.kv_block) + ": expected a positive multiple of " +
                     std::to_string(kernels::kKeyTile));
  if (p.kv_budget_tokens < 0) throw InputError("--kv-budget must not be negative");
  return p;
}

ForwardParams forward_params(const EngineParams& p, int n_ctx) {
  ForwardParams f;
  f.max_tokens = p.prefill_chunk + p.max_seqs;
  f.max_seqs = p.max_seqs;
  f.max_logits = p.max_seqs;
  f.n_ctx = n_ctx;
  f.n_threads = p.n_threads;
  return f;
}

int pool_blocks(const EngineParams& p, int n_ctx) {
  const int64_t tokens = p.kv_budget_tokens > 0 ? p.kv_budget_tokens : int64_t(n_ctx) * p.max_seqs;
  const int64_t blocks = (tokens + p.kv_block - 1) / p.kv_block;
  if (blocks > (int64_t(1) << 30)) throw InputError("--kv-budget of " + std::to_string(tokens) + " tokens is too large");
  return int(std::max<int64_t>(1, blocks));
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "?";
}

struct Engine::Sequence {
  Sequence(uint64_t id_, EngineRequest r, int n_vocab) : id(id_), req(std::move(r)), sampler(req.sampling, n_vocab) {}
  uint64_t id;
  EngineRequest req;
  std::vector<int32_t> tokens;  // the prompt, then the generated tokens
  int n_prompt = 0;
  int n_computed = 0;  // tokens whose K/V are in the cache
  int n_cached = 0;    // prompt tokens taken from the prefix cache at the first admission
  int n_generated = 0;
  int n_preempted = 0;
  bool admitted = false, has_first = false;
  std::vector<int32_t> blocks;  // block table: blocks[i] holds positions i·B .. i·B+B-1
  std::vector<uint64_t> keys;   // prefix keys of the full blocks published so far
  Sampler sampler;
  Clock::time_point t_submit, t_admit, t_first;
};

RuntimeMemory Engine::memory(const ModelConfig& c, const EngineParams& params) {
  const EngineParams p = checked(params);
  RuntimeMemory m;
  m.n_ctx = engine_context(c, p);
  m.n_seqs = p.max_seqs;
  const ForwardParams fp = forward_params(p, m.n_ctx);
  m.max_tokens = fp.max_tokens;
  m.n_threads = resolve_thread_count(p.n_threads);
  m.kv_block = p.kv_block;
  m.kv_blocks = pool_blocks(p, m.n_ctx);
  m.kv_bytes_per_token = qinfer::kv_bytes_per_token(c, p.cache_type);
  m.kv_block_bytes = KvCache::block_bytes_for(c, p.cache_type, p.kv_block);
  m.kv_bytes = m.kv_block_bytes * size_t(m.kv_blocks);
  m.forward_bytes = Forward::buffer_bytes(c, fp);
  // A row of logits per sequence, and the top-k scratch over the vocabulary.
  m.logits_bytes = (size_t(p.max_seqs) * sizeof(float) + sizeof(int32_t)) * size_t(c.n_vocab);
  return m;
}

Engine::Engine(const Model& model, const EngineParams& params)
    : model_(model),
      params_(checked(params)),
      n_ctx_(engine_context(model.config, params_)),
      forward_(model, forward_params(params_, n_ctx_)),
      cache_(model.config, params_.cache_type, params_.kv_block, pool_blocks(params_, n_ctx_)),
      pool_(cache_.n_blocks(), params_.kv_block) {
  const size_t max_tokens = size_t(params_.prefill_chunk + params_.max_seqs);
  ub_tokens_.reserve(max_tokens);
  ub_seqs_.reserve(size_t(params_.max_seqs));
  ub_owner_.reserve(size_t(params_.max_seqs));
  running_.reserve(size_t(params_.max_seqs));
  logits_.assign(size_t(params_.max_seqs) * size_t(model.config.n_vocab), 0.0f);
  top_idx_.resize(size_t(model.config.n_vocab));
  top_.resize(20);
  update_stats();
}

Engine::~Engine() {
  stop();
  take_inbox();
  while (!waiting_.empty()) {
    SeqPtr s = std::move(waiting_.front());
    waiting_.pop_front();
    finish(std::move(s), FinishReason::Cancelled, -1);
  }
  while (!running_.empty()) {
    SeqPtr s = std::move(running_.back());
    running_.pop_back();
    if (s) finish(std::move(s), FinishReason::Cancelled, -1);
  }
}

// After a failed step: every request ends with the error; the pool is whole again.
void Engine::fail_all(const std::string& why) {
  for (Retired& r : retired_)
    if (r.seq) running_.push_back(std::move(r.seq));
  retired_.clear();
  {
    std::lock_guard lock(mu_);
    for (SeqPtr& s : inbox_) waiting_.push_back(std::move(s));
    inbox_.clear();
  }
  while (!waiting_.empty()) {
    SeqPtr s = std::move(waiting_.front());
    waiting_.pop_front();
    finish(std::move(s), FinishReason::Error, -1, why);
  }
  for (SeqPtr& s : running_)
    if (s) finish(std::move(s), FinishReason::Error, -1, why);
  running_.clear();
  update_stats();
}

uint64_t Engine::submit(EngineRequest request) {
  const ModelConfig& c = model_.config;
  const int n = int(request.prompt.size());
  if (n == 0) throw InputError("empty prompt");
  for (int32_t t : request.prompt)
    if (t < 0 || t >= c.n_vocab)
      throw InputError("token id " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(c.n_vocab));
  if (n > n_ctx_)
    throw InputError("prompt of " + std::to_string(n) + " tokens does not fit the context of " +
                     std::to_string(n_ctx_) + " tokens");
  if (request.max_tokens == 0) throw InputError("max_tokens must be at least 1 (or negative for no limit)");
  if (request.top_logprobs < 0 || request.top_logprobs > int(top_.size()))
    throw InputError("top_logprobs must be between 0 and " + std::to_string(top_.size()));
  // K/V rows it holds at its longest: every token but the last generated one.
  const int64_t longest = request.max_tokens < 0 ? int64_t(n_ctx_)
                                                 : std::min<int64_t>(int64_t(n) + request.max_tokens - 1, n_ctx_);
  const int B = pool_.block_size();
  if (ceil_div(int(longest), B) > pool_.n_blocks())
    throw InputError("request needs " + std::to_string(longest) + " tokens of KV cache (" + std::to_string(n) +
                     " prompt + " + (request.max_tokens < 0 ? std::string("generation up to the context") :
                                                              std::to_string(request.max_tokens) + " to generate") +
                     ") but the pool holds " + std::to_string(kv_capacity_tokens()) + " tokens (raise --kv-budget)");
  auto seq = std::make_unique<Sequence>(0, std::move(request), c.n_vocab);
  seq->n_prompt = n;
  seq->tokens.reserve(size_t(std::min<int64_t>(longest + 1, n_ctx_ + 1)));
  seq->tokens = seq->req.prompt;
  for (int32_t t : seq->tokens) seq->sampler.accept(t);
  seq->t_submit = Clock::now();
  std::lock_guard lock(mu_);
  seq->id = next_id_++;
  const uint64_t id = seq->id;
  live_.insert(id);
  inbox_.push_back(std::move(seq));
  ++stats_.requests;
  work_cv_.notify_all();
  return id;
}

bool Engine::cancel(uint64_t id) {
  std::lock_guard lock(mu_);
  if (!live_.count(id)) return false;
  cancels_.push_back(id);
  work_cv_.notify_all();
  return true;
}

EngineStats Engine::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Engine::reset_peaks() {
  std::lock_guard lock(mu_);
  stats_.peak_blocks_used = stats_.blocks_used;
  stats_.peak_tokens_in_use = stats_.tokens_in_use;
}

void Engine::check() const {
  pool_.check();
  const int B = pool_.block_size();
  std::vector<int> owners(size_t(pool_.n_blocks()), 0);
  for (const SeqPtr& s : running_) {
    if (!s) throw Error("engine: a finished sequence is still listed as running");
    if (int(s->blocks.size()) < ceil_div(s->n_computed, B) || s->n_computed > int(s->tokens.size()))
      throw Error("engine: request " + std::to_string(s->id) + " holds too few blocks for its tokens");
    for (int32_t b : s->blocks) ++owners[size_t(b)];
  }
  for (const SeqPtr& s : waiting_)
    if (!s->blocks.empty()) throw Error("engine: waiting request " + std::to_string(s->id) + " holds blocks");
  for (int b = 0; b < pool_.n_blocks(); ++b)
    if (owners[size_t(b)] != pool_.refs(b))
      throw Error("engine: block " + std::to_string(b) + " has " + std::to_string(pool_.refs(b)) +
                  " owners in the pool but " + std::to_string(owners[size_t(b)]) + " sequences hold it");
}

void Engine::take_inbox() {
  std::vector<uint64_t> cancels;
  {
    std::lock_guard lock(mu_);
    for (SeqPtr& s : inbox_) waiting_.push_back(std::move(s));
    inbox_.clear();
    cancels.swap(cancels_);
  }
  for (uint64_t id : cancels) {
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it)
      if ((*it)->id == id) {
        SeqPtr s = std::move(*it);
        waiting_.erase(it);
        finish(std::move(s), FinishReason::Cancelled, -1);
        break;
      }
    for (auto it = running_.begin(); it != running_.end(); ++it)
      if ((*it)->id == id) {
        SeqPtr s = std::move(*it);
        running_.erase(it);
        finish(std::move(s), FinishReason::Cancelled, -1);
        break;
      }
  }
}

void Engine::publish_full_blocks(Sequence& s) {
  if (!params_.prefix_cache) return;
  const int B = pool_.block_size();
  for (int bi = int(s.keys.size()); (bi + 1) * B <= s.n_computed; ++bi) {
    const uint64_t parent = bi ? s.keys[size_t(bi) - 1] : 0;
    const int32_t* toks = &s.tokens[size_t(bi) * B];
    pool_.publish(s.blocks[size_t(bi)], parent, toks, B);
    s.keys.push_back(BlockPool::chain(parent, toks, B));
  }
}

// Releases every block; a last, partly filled block stays matchable (cached)
// so a later turn or a recomputation can copy it.
static void release_blocks(BlockPool& pool, bool publish, std::vector<int32_t>& blocks,
                           const std::vector<uint64_t>& keys, const std::vector<int32_t>& tokens, int n_computed) {
  const int B = pool.block_size();
  const int tail = n_computed % B;
  if (publish && tail > 0 && int(blocks.size()) == n_computed / B + 1 && int(keys.size()) == n_computed / B)
    pool.publish(blocks.back(), keys.empty() ? 0 : keys.back(), &tokens[size_t(n_computed - tail)], tail);
  for (int32_t b : blocks) pool.release(b);
  blocks.clear();
}

void Engine::finish(SeqPtr s, FinishReason reason, int32_t stop_token, const std::string& error) {
  release_blocks(pool_, params_.prefix_cache, s->blocks, s->keys, s->tokens, s->n_computed);
  const Clock::time_point now = Clock::now();
  FinishEvent ev;
  ev.request = s->id;
  ev.reason = reason;
  ev.stop_token = stop_token;
  ev.n_prompt = s->n_prompt;
  ev.n_cached = s->n_cached;
  ev.n_generated = s->n_generated;
  ev.n_preempted = s->n_preempted;
  ev.error = error;
  if (s->admitted) {
    ev.queue_ms = ms_between(s->t_submit, s->t_admit);
    ev.prefill_ms = ms_between(s->t_admit, s->has_first ? s->t_first : now);
    ev.decode_ms = s->has_first ? ms_between(s->t_first, now) : 0.0;
  } else {
    ev.queue_ms = ms_between(s->t_submit, now);
  }
  {
    std::lock_guard lock(mu_);
    live_.erase(s->id);
    ++stats_.finished;
    if (reason == FinishReason::Cancelled) ++stats_.cancelled;
    if (live_.empty()) idle_cv_.notify_all();
  }
  if (s->req.on_finish) s->req.on_finish(ev);
}

void Engine::preempt(Sequence& s) {
  release_blocks(pool_, params_.prefix_cache, s.blocks, s.keys, s.tokens, s.n_computed);
  s.keys.clear();
  s.n_computed = 0;
  ++s.n_preempted;
  std::lock_guard lock(mu_);
  ++stats_.preemptions;
}

bool Engine::grow(Sequence& s, int n) {
  const int need = ceil_div(s.n_computed + n, pool_.block_size()) - int(s.blocks.size());
  if (need > pool_.available()) return false;
  for (int i = 0; i < need; ++i) s.blocks.push_back(pool_.allocate());
  return true;
}

// Shares what the prefix cache holds of the sequence's tokens, then takes
// blocks for a first chunk of at most `budget` tokens. False (nothing taken)
// when not even one token fits.
bool Engine::admit(Sequence& s, int budget, int& chunk) {
  const int B = pool_.block_size();
  const int n = int(s.tokens.size());
  if (params_.prefix_cache) pool_.match(s.tokens.data(), n, n - 1, match_);  // the last token is always computed
  else match_ = BlockPool::Match{};
  const int start = match_.tokens(B);
  int cached_reused = 0;
  for (int32_t b : match_.blocks) cached_reused += pool_.refs(b) == 0 ? 1 : 0;
  const int avail = pool_.available() - cached_reused - (match_.partial >= 0 && pool_.refs(match_.partial) == 0 ? 1 : 0);
  const int max_fit = (int(match_.blocks.size()) + avail) * B - start;
  chunk = std::min({n - start, budget, max_fit});
  if (chunk < 1) return false;
  for (int32_t b : match_.blocks) pool_.retain(b);
  s.blocks.assign(match_.blocks.begin(), match_.blocks.end());
  s.keys.assign(match_.keys.begin(), match_.keys.end());
  if (match_.partial >= 0) {
    pool_.retain(match_.partial);  // not evicted by the allocation below
    const int copy = pool_.allocate();
    cache_.copy_block(copy, match_.partial);
    pool_.release(match_.partial);
    s.blocks.push_back(copy);
  }
  s.n_computed = start;
  if (!grow(s, chunk)) throw Error("engine: admission miscounted the free blocks");
  if (!s.admitted) {
    s.admitted = true;
    s.t_admit = Clock::now();
    s.n_cached = std::min(start, s.n_prompt);
    std::lock_guard lock(mu_);
    stats_.prompt_tokens += s.n_prompt;
    stats_.cached_tokens += s.n_cached;
  }
  return true;
}

void Engine::sample(Sequence& s, const float* logits, std::vector<Retired>& done) {
  const int n_vocab = model_.config.n_vocab;
  const int32_t tok = s.sampler.sample(logits);
  auto retire = [&](FinishReason reason, int32_t stop_token) {
    for (SeqPtr& p : running_)
      if (p.get() == &s) done.push_back({std::move(p), reason, stop_token});
  };
  const auto& stops = s.req.stop_tokens;
  if ((!s.req.ignore_eog && model_.tokenizer->is_eog(tok)) || std::find(stops.begin(), stops.end(), tok) != stops.end())
    return retire(FinishReason::Stop, tok);
  TokenEvent ev;
  ev.request = s.id;
  ev.token = tok;
  ev.index = s.n_generated;
  if (s.req.logprobs || s.req.top_logprobs > 0) {
    float mx = logits[0];
    for (int i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i] - mx));
    const double lse = double(mx) + std::log(sum);
    ev.logprob = float(double(logits[tok]) - lse);
    if (s.req.top_logprobs > 0) {
      const int k = std::min(s.req.top_logprobs, n_vocab);
      for (int i = 0; i < n_vocab; ++i) top_idx_[size_t(i)] = i;
      std::partial_sort(top_idx_.begin(), top_idx_.begin() + k, top_idx_.end(), [&](int32_t a, int32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
      });
      for (int i = 0; i < k; ++i)
        top_[size_t(i)] = {top_idx_[size_t(i)], float(double(logits[top_idx_[size_t(i)]]) - lse)};
      ev.top = top_.data();
      ev.n_top = k;
    }
  }
  if (!s.has_first) {
    s.has_first = true;
    s.t_first = Clock::now();
  }
  s.tokens.push_back(tok);
  s.sampler.accept(tok);
  ++s.n_generated;
  {
    std::lock_guard lock(mu_);
    ++stats_.generated_tokens;
  }
  if (s.req.on_token) s.req.on_token(ev);
  if ((s.req.max_tokens >= 0 && s.n_generated >= s.req.max_tokens) || s.n_computed >= n_ctx_)
    retire(FinishReason::Length, -1);
}

bool Engine::step() {
  take_inbox();
  if (running_.empty() && waiting_.empty()) {
    update_stats();
    return false;
  }
  const int B = pool_.block_size();
  ub_tokens_.clear();
  ub_seqs_.clear();
  ub_owner_.clear();
  int budget = params_.prefill_chunk;
  bool preempted = false;
  auto schedule = [&](Sequence& s, int k) {
    UbatchSeq u;
    u.n = k;
    u.pos0 = s.n_computed;
    u.blocks = s.blocks.data();
    u.n_logits = s.n_computed + k == int(s.tokens.size()) ? 1 : 0;
    ub_tokens_.insert(ub_tokens_.end(), s.tokens.begin() + s.n_computed, s.tokens.begin() + s.n_computed + k);
    ub_seqs_.push_back(u);
    ub_owner_.push_back(&s);
  };

  // Running sequences, oldest first: a decode token each, prompt chunks from
  // the budget. A sequence short of blocks takes them from the youngest
  // running ones, which go back to the queue to be recomputed later.
  for (size_t i = 0; i < running_.size();) {
    Sequence& s = *running_[i];
    const int pending = int(s.tokens.size()) - s.n_computed;
    int k = pending == 1 ? 1 : std::min(pending, budget);
    if (k < 1) {
      ++i;
      continue;
    }
    bool self_preempted = false;
    while (!grow(s, k)) {
      if (running_.size() > i + 1) {
        SeqPtr victim = std::move(running_.back());
        running_.pop_back();
        preempt(*victim);
        waiting_.push_front(std::move(victim));
        preempted = true;
        continue;
      }
      const int fit = (int(s.blocks.size()) + pool_.available()) * B - s.n_computed;
      if (fit >= 1 && pending > 1) {
        k = std::min(k, fit);
        continue;
      }
      SeqPtr self = std::move(running_[i]);
      running_.erase(running_.begin() + ptrdiff_t(i));
      preempt(*self);
      waiting_.push_front(std::move(self));
      preempted = self_preempted = true;
      break;
    }
    if (self_preempted) continue;
    if (pending > 1) budget -= k;
    schedule(s, k);
    ++i;
  }
  // Then waiting requests, first come first served, while blocks and budget last.
  while (!preempted && !waiting_.empty() && int(running_.size()) < params_.max_seqs && budget > 0) {
    Sequence& s = *waiting_.front();
    int chunk = 0;
    if (!admit(s, budget, chunk)) break;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    budget -= chunk;
    schedule(s, chunk);
  }
  if (ub_seqs_.empty()) throw Error("engine: no sequence could be scheduled");

  Ubatch ub;
  ub.tokens = ub_tokens_.data();
  ub.seqs = ub_seqs_.data();
  ub.n_seqs = int(ub_seqs_.size());
  forward_.run(ub, cache_, logits_.data());
  int n_rows = 0;
  for (const UbatchSeq& u : ub_seqs_) n_rows += u.n_logits;
  check_logits_finite(model_, logits_.data(), n_rows);

  std::vector<Retired>& done = retired_;
  done.clear();
  int row = 0;
  for (size_t i = 0; i < ub_seqs_.size(); ++i) {
    Sequence& s = *ub_owner_[i];
    s.n_computed += ub_seqs_[i].n;
    publish_full_blocks(s);
    if (ub_seqs_[i].n_logits) sample(s, &logits_[size_t(row++) * model_.config.n_vocab], done);
  }
  for (Retired& r : done) finish(std::move(r.seq), r.reason, r.stop_token);
  done.clear();
  running_.erase(std::remove(running_.begin(), running_.end(), nullptr), running_.end());
  {
    std::lock_guard lock(mu_);
    ++stats_.steps;
  }
  update_stats();
  return true;
}

void Engine::update_stats() {
  int64_t in_use = 0;
  for (const SeqPtr& s : running_) in_use += s->n_computed;
  std::lock_guard lock(mu_);
  EngineStats& st = stats_;
  st.running = int(running_.size());
  st.waiting = int(waiting_.size() + inbox_.size());
  st.block_size = pool_.block_size();
  st.blocks_total = pool_.n_blocks();
  st.blocks_used = pool_.used();
  st.blocks_cached = pool_.cached();
  st.blocks_free = pool_.n_blocks() - pool_.used() - pool_.cached();
  st.peak_blocks_used = std::max(st.peak_blocks_used, st.blocks_used);
  st.tokens_in_use = in_use;
  st.peak_tokens_in_use = std::max(st.peak_tokens_in_use, in_use);
  st.bytes_per_token = cache_.bytes_per_token();
  st.block_bytes = cache_.block_bytes();
  st.bytes_total = cache_.total_bytes();
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !inbox_.empty() || !cancels_.empty() || stats_.running > 0 || stats_.waiting > 0; });
      if (stop_) return;
    }
    try {
      step();
    } catch (const std::exception& e) {
      fail_all(e.what());
    }
  }
}

void Engine::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void Engine::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::drain() {
  if (!thread_.joinable()) {
    while (step()) {
    }
    return;
  }
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return live_.empty(); });
}

}  // namespace qinfer
