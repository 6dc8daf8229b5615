// The typed configuration: every name table reads back what it writes and refuses the rest, and
// the recipe table carries every field through model-file metadata and back, refusing a stored
// value that contradicts an explicit option, one that is missing, and one that is invalid.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "ptrain/core/config.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/core/text_parsers.hpp"

namespace ptrain {
namespace {

template <class E>
void expect_names_round_trip() {
  for (const auto& [value, name] : Names<E>::table.names) {
    EXPECT_EQ(parse_choice<E>(name), value) << name;
    EXPECT_EQ(name_of(value), name);
  }
}

// Expects `call` to be refused with a UsageError whose line is exactly `message`.
void expect_usage_error(const std::function<void()>& call, const std::string& message) {
  try {
    call();
    ADD_FAILURE() << "accepted; expected: " << message;
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(Config, NameTablesReadBackWhatTheyWrite) {
  expect_names_round_trip<Activation>();
  expect_names_round_trip<Loss>();
  expect_names_round_trip<Init>();
  expect_names_round_trip<EngineKind>();
  expect_names_round_trip<SplitKind>();
  expect_names_round_trip<LrDecay>();
  expect_names_round_trip<Preset>();
}

TEST(Config, NameTablesRefuseOtherSpellingsNamingTheOption) {
  expect_usage_error([] { parse_choice<Activation>("swish"); }, "--activation 'swish': expected sigmoid, tanh or relu");
  EXPECT_THROW(parse_choice<EngineKind>("Parallel"), UsageError);
  EXPECT_THROW(parse_choice<LrDecay>(""), UsageError);
}

// Every recipe field away from its default.
TrainConfig unusual_recipe() {
  TrainConfig c;
  c.spec.sizes = {5, 4, 3};
  c.engine = EngineKind::scalar;
  c.seed = 7;
  set_preset(c, Preset::blog);
  c.batch_size = 9;
  c.lr = 0.3;
  c.split = SplitKind::standard;
  c.val_size = 11;
  c.spec.hidden = Activation::relu;
  c.spec.loss = Loss::xent;
  c.init = Init::he;
  c.momentum = 0.5;
  c.optimizer = Optimizer::adamw;
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.eps = 1e-6;
  c.weight_decay = 0.25;
  c.lr_decay = LrDecay::cosine;
  c.step_size = 4;
  c.gamma = 0.7;
  c.warmup_epochs = 2;
  c.epochs = 13;
  return c;
}

TEST(Config, EveryRecipeFieldGoesThroughMetadataAndBack) {
  const TrainConfig want = unusual_recipe();
  const auto metadata = recipe_metadata(want);
  EXPECT_EQ(metadata.size(), recipe_fields().size());
  TrainConfig got;
  adopt_recipe(got, metadata, "f", true);
  for (const RecipeField& f : recipe_fields()) EXPECT_EQ(f.text(got), f.text(want)) << f.key;
  EXPECT_EQ(got.spec.sizes, (std::vector<int>{5, 4, 3}));
  EXPECT_EQ(got.engine, EngineKind::scalar);
  EXPECT_EQ(got.seed, 7u);
  EXPECT_EQ(got.spec.input_scale, 1.0);  // the preset's raw pixels
  EXPECT_TRUE(got.spec.blog_derivative);
  EXPECT_EQ(got.batch_size, 9);
  EXPECT_EQ(got.lr, 0.3);  // "%.17g" reads back to the same bits
  EXPECT_EQ(got.split, SplitKind::standard);
  EXPECT_EQ(got.val_size, 11u);
  EXPECT_EQ(got.spec.hidden, Activation::relu);
  EXPECT_EQ(got.spec.loss, Loss::xent);
  EXPECT_EQ(got.init, Init::he);
  EXPECT_EQ(got.momentum, 0.5);
  EXPECT_EQ(got.optimizer, Optimizer::adamw);
  EXPECT_EQ(got.beta1, 0.8);
  EXPECT_EQ(got.beta2, 0.95);
  EXPECT_EQ(got.eps, 1e-6);
  EXPECT_EQ(got.weight_decay, 0.25);
  EXPECT_EQ(got.lr_decay, LrDecay::cosine);
  EXPECT_EQ(got.step_size, 4);
  EXPECT_EQ(got.gamma, 0.7);
  EXPECT_EQ(got.warmup_epochs, 2);
  EXPECT_EQ(got.epochs, 13);  // a cosine decay spans them
  EXPECT_EQ(metadata.at("decay_epochs"), "13");
}

TEST(Config, AnExplicitOptionThatContradictsTheStoredRecipeIsRefusedNamingBoth) {
  const TrainConfig defaults;
  const auto metadata = recipe_metadata(defaults);
  TrainConfig c;
  c.seed = 7;
  c.explicit_options = {"seed"};
  expect_usage_error([&] { adopt_recipe(c, metadata, "ck.safetensors", true); },
                     "--seed 7 contradicts the checkpoint ck.safetensors, which has 42");
  TrainConfig same;  // an explicit option with the stored value is no contradiction
  same.explicit_options = {"seed", "lr"};
  EXPECT_NO_THROW(adopt_recipe(same, metadata, "ck.safetensors", true));
  TrainConfig more_epochs;  // without a cosine decay, the epochs are free
  more_epochs.epochs = 20;
  more_epochs.explicit_options = {"epochs"};
  EXPECT_NO_THROW(adopt_recipe(more_epochs, metadata, "ck.safetensors", true));
  EXPECT_EQ(more_epochs.epochs, 20);
}

// A checkpoint written before the optimizer options was trained with SGD: it resumes as such,
// and an explicit other optimizer contradicts it.
TEST(Config, ACheckpointFromBeforeTheOptimizersIsSgd) {
  const TrainConfig defaults;
  auto metadata = recipe_metadata(defaults);
  for (const char* key : {"optimizer", "beta1", "beta2", "eps", "weight_decay", "step_size", "gamma", "warmup_epochs"})
    metadata.erase(key);
  TrainConfig c;
  c.optimizer = Optimizer::adam;  // not given explicitly: the checkpoint's own wins
  ASSERT_NO_THROW(adopt_recipe(c, metadata, "old.safetensors", true));
  EXPECT_EQ(c.optimizer, Optimizer::sgd);
  EXPECT_EQ(c.weight_decay, 0.0);
  TrainConfig adam;
  adam.optimizer = Optimizer::adam;
  adam.explicit_options = {"optimizer"};
  expect_usage_error([&] { adopt_recipe(adam, metadata, "old.safetensors", true); },
                     "--optimizer adam contradicts the checkpoint old.safetensors, which has sgd");
}

TEST(Config, AMissingOrInvalidStoredFieldIsADataErrorNamingTheFile) {
  auto metadata = recipe_metadata(unusual_recipe());
  metadata.erase("lr");
  TrainConfig c;
  EXPECT_THROW(adopt_recipe(c, metadata, "ck", true), DataError);
  TrainConfig lenient;  // a model from another tool: what it leaves out keeps its default
  EXPECT_NO_THROW(adopt_recipe(lenient, metadata, "model", false));
  const TrainConfig defaults;
  EXPECT_EQ(lenient.lr, defaults.lr);
  EXPECT_EQ(lenient.seed, 7u);
  metadata["momentum"] = "1.5";
  try {
    adopt_recipe(c, metadata, "ck", false);
    FAIL() << "momentum 1.5 accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("ck: metadata 'momentum'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ptrain
