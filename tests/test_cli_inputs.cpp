// What a new user hits first, through the command line: tokenizing with a
// vocabulary-only GGUF, directories and missing flags where files are
// expected, generation lengths beyond the context, files that are not models,
// and models whose numbers are not finite. Each: a clear line, right exit code.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "cli_runner.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
#include "vocab_vectors.h"

using namespace qinfer;
using namespace qinfer::test;
namespace fs = std::filesystem;

namespace {

const std::string kModel = "models/stories260K/stories260K.gguf";
const std::string kTiny = "golden/tiny256/tiny256-F32.gguf";
std::string model() { return data_path(kModel); }

std::string trim_ids(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

// A copy of `src` with tensor `name` (F32) edited in place and metadata set by `edit`.
std::string write_edited(const fs::path& path, const std::string& src_rel, const std::string& name,
                         const std::function<void(std::vector<float>&)>& change,
                         const std::function<void(GgufWriter&)>& edit = {}) {
  auto src = GgufFile::open(data_path(src_rel));
  GgufWriter w;
  w.copy_metadata(*src);
  if (edit) edit(w);
  std::vector<float> data;
  for (const GgufTensorInfo& t : src->tensors()) {
    if (t.name != name) {
      w.add_tensor_from(*src, t);
      continue;
    }
    EXPECT_EQ(t.type, TypeId::F32) << name;
    const float* x = reinterpret_cast<const float*>(src->tensor_data(t));
    data.assign(x, x + t.n_elements());
    change(data);
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + std::max<uint32_t>(t.n_dims, 1)), data.data(),
                 data.size() * 4);
  }
  w.write(path.string());
  return path.string();
}

}  // namespace

// --- tokenize needs only the vocabulary -----------------------------------

class TokenizeVocabOnly : public ::testing::TestWithParam<std::string> {};

// llama.cpp's test vectors through the command line, as llama-tokenize would
// be run on the vocabulary-only file. A spread of inputs per vocabulary (a
// process each); test_tokenizer's VocabVectors runs every input through the
// same Tokenizer in one process.
TEST_P(TokenizeVocabOnly, CliMatchesLlamaCppVectors) {
  const std::string base = "vocab/ggml-vocab-" + GetParam() + ".gguf";
  QINFER_REQUIRE_DATA(base);
  QINFER_REQUIRE_DATA(base + ".inp");
  const auto [inputs, outputs] = read_vocab_vectors(base);
  ASSERT_EQ(inputs.size(), outputs.size());
  const fs::path dir = scratch_dir();
  int failures = 0;
  const size_t stride = inputs.size() / 3 + 1;
  for (size_t i = GetParam().size() % stride; i < inputs.size(); i += stride) {
    const fs::path in = dir / ("input-" + std::to_string(i) + ".txt");
    std::ofstream(in, std::ios::binary) << inputs[i];
    const auto r = run_qinfer("tokenize -m " + data_path(base) + " -f " + in.string() + " --ids --no-special");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (trim_ids(r.out) != trim_ids(outputs[i]) && ++failures <= 5)
      ADD_FAILURE() << "input " << i << ": expected '" << trim_ids(outputs[i]) << "', got '" << trim_ids(r.out) << "'";
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(LlamaCpp, TokenizeVocabOnly, ::testing::ValuesIn(kVocabsWithVectors), vocab_param_name);

// Whatever the architecture (baichuan, gpt-neox, ... which the engine does
// not run): tokens and pieces come out, and BOS/EOS as the vocabulary says.
TEST(TokenizeVocabOnlyAnyArch, EveryVocabFileTokenizes) {
  int tested = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data_path("vocab"), ec)) {
    const std::string path = e.path().string();
    if (e.path().extension() != ".gguf") continue;
    ++tested;
    const auto r = run_qinfer("tokenize -m " + path + " -p 'Hello world, 3 apples!'");
    EXPECT_EQ(r.exit_code, 0) << path << ": " << r.err;
    EXPECT_NE(r.out.find(" tokens\n"), std::string::npos) << path << ": " << r.out;
    EXPECT_NE(r.out.find("->"), std::string::npos) << path << ": " << r.out;
  }
  if (tested == 0) GTEST_SKIP() << "no vocab files";
}

// --- inputs that are not what they should be ------------------------------

TEST(CliInputs, DirectoryGivenAsFileIsOneLineError) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string dir = scratch_dir().string();
  for (const std::string& cmd : {"tokenize -m " + model() + " -f " + dir, "run -m " + model() + " -f " + dir,
                                 "perplexity -m " + model() + " -f " + dir, "imatrix -m " + model() + " -f " + dir}) {
    const auto r = run_qinfer(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.err;
    EXPECT_EQ(r.err, "qinfer: error: " + dir + ": is a directory, not a file\n") << cmd;
  }
}

TEST(CliInputs, NotAGgufOrLlama2cFileSaysSo) {
  const fs::path dir = scratch_dir();
  // A GGUF with a damaged magic, and plain text: no "dim = 1481983815".
  const fs::path bad = dir / "bad-magic.gguf";
  std::ofstream(bad, std::ios::binary) << "GGUX" << std::string(200, '\x01');
  const fs::path text = dir / "notes.txt";
  std::ofstream(text) << "just some text that is long enough to look like a header, really\n";
  for (const fs::path& p : {bad, text})
    for (const char* cmd : {"info ", "run -m ", "tokenize -p hi -m "}) {
      const auto r = run_qinfer(cmd + p.string());
      EXPECT_EQ(r.exit_code, 2) << cmd << p;
      EXPECT_NE(r.err.find(p.string() + ": not a GGUF or llama2.c file"), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("dim ="), std::string::npos) << r.err;
      EXPECT_EQ(count_lines(r.err), 1) << r.err;
      EXPECT_EQ(r.out, "") << cmd << ": nothing on stdout before the error";
    }
}

TEST(CliInputs, InfoTakesTheModelEitherWay) {
  QINFER_REQUIRE_DATA(kModel);
  const auto positional = run_qinfer("info " + model());
  const auto flag = run_qinfer("info -m " + model());
  ASSERT_EQ(positional.exit_code, 0) << positional.err;
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(flag.out, positional.out);
  EXPECT_EQ(run_qinfer("info --model " + model()).out, positional.out);
}

TEST(CliInputs, DefaultModelAndTextAreAnnounced) {
  QINFER_REQUIRE_DATA(kModel);
  const std::string env = "QINFER_SHARED_DATA=" + shared_data();
  const auto r = run_qinfer("run -n 2 --no-stats", env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no model given (-m): using the default model"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stories260K.gguf"), std::string::npos) << r.err;
  const auto p = run_qinfer("perplexity -m " + model() + " -c 128 --chunks 1", env);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.err.find("no text given (-f): using the default text"), std::string::npos) << p.err;
  // Given explicitly: no notice.
  const auto quiet = run_qinfer("run -m " + model() + " -n 2 --no-stats");
  EXPECT_EQ(quiet.err.find("no model given"), std::string::npos) << quiet.err;
}

// --- generation and context lengths ----------------------------------------

TEST(CliInputs, GenerationBeyondTheContextIsSaid) {
  QINFER_REQUIRE_DATA(kModel);
  // "Once upon a time" is 5 tokens with BOS: a 16-token context has room for 12 more.
  const auto r = run_qinfer("run -m " + model() + " -p 'Once upon a time' -c 16 -n 20 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("-n 20 does not fit"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped at the end of the context (16 tokens)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generated: 12 tokens"), std::string::npos) << r.err;
  // Within the context: no warning.
  const auto fits = run_qinfer("run -m " + model() + " -p 'Once upon a time' -c 32 -n 8 --temp 0");
  EXPECT_EQ(fits.err.find("does not fit"), std::string::npos) << fits.err;
  EXPECT_EQ(fits.err.find("warning"), std::string::npos) << fits.err;
}

TEST(CliInputs, ContextBeyondTrainingIsWarned) {
  QINFER_REQUIRE_DATA(kModel);
  const auto info = run_qinfer("info --no-tensors " + model());
  const size_t at = info.out.find("context_length");
  ASSERT_NE(at, std::string::npos) << info.out;
  const int trained = std::stoi(info.out.substr(info.out.find('=', at) + 1));
  const auto r = run_qinfer("run -m " + model() + " -n 2 --no-stats -c " + std::to_string(2 * trained));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: a context of " + std::to_string(2 * trained) + " tokens is longer than the " +
                       std::to_string(trained) + " the model was trained on"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;  // said once
}

// --- non-finite numbers ------------------------------------------------------

TEST(CliInputs, NanWeightIsNamedNotAPerplexityOfNan) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = scratch_dir();
  const std::string nan_model = write_edited(dir / "nan.gguf", kTiny, "blk.1.ffn_up.weight",
                                             [](std::vector<float>& w) { w[1000] = std::nanf(""); });
  const fs::path text = dir / "text.txt";
  {
    std::ofstream f(text);
    for (int i = 0; i < 200; ++i) f << "Once upon a time there was a little cat. ";
  }
  for (const std::string& cmd : {"run -n 4 --temp 0 -m " + nan_model,
                                 "perplexity -c 64 --chunks 2 -f " + text.string() + " -m " + nan_model}) {
    const auto r = run_qinfer(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("NaN/Inf logits: tensor blk.1.ffn_up.weight holds NaN (row 3, column 232)"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;
  }
  // Finite weights that overflow: the forward pass is named instead.
  const std::string huge = write_edited(dir / "huge.gguf", kTiny, "output_norm.weight",
                                        [](std::vector<float>& w) { std::fill(w.begin(), w.end(), 3e38f); });
  const auto h = run_qinfer("run -n 2 --temp 0 -m " + huge);
  EXPECT_EQ(h.exit_code, 2) << h.err;
  EXPECT_NE(h.err.find("every weight is finite, so the forward pass overflowed"), std::string::npos) << h.err;
}

TEST(CliInputs, NonFiniteOrNonPositiveRmsEpsIsRefusedAtLoad) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = scratch_dir();
  const float values[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 0.0f,
                          -1e-5f};
  int i = 0;
  for (float eps : values) {
    const std::string path = write_edited(dir / ("eps" + std::to_string(i++) + ".gguf"), kTiny, "", {},
                                          [eps](GgufWriter& w) { w.set_float32("llama.attention.layer_norm_rms_epsilon", eps); });
    const auto r = run_qinfer("run -n 2 -m " + path);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("llama.attention.layer_norm_rms_epsilon = "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("must be a positive finite number"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
}
