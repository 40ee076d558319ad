#include <gtest/gtest.h>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "test_util.h"

using namespace qinfer;

TEST(GgufReader, ReadsStories260K) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  auto f = GgufFile::open(test::data_path("models/stories260K/stories260K.gguf"));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.embedding_length", 0), 64);
  EXPECT_EQ(f->get_int("llama.block_count", 0), 5);
  const GgufTensorInfo* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne[0], 64);
  EXPECT_EQ(emb->ne[1], 512);
  EXPECT_EQ(emb->type, TypeId::F32);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->arr.size(), 512u);
}

TEST(GgufReader, RejectsBadMagic) {
  const uint8_t bytes[] = {'G', 'G', 'U', 'X', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  try {
    GgufFile::parse(bytes, sizeof(bytes), "bad.gguf");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.gguf: not a GGUF file"), std::string::npos) << e.what();
  }
}
