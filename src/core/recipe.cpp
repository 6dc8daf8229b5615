#include "ptrain/core/recipe.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/text_parsers.hpp"

namespace ptrain {
namespace {

std::string text_of_momentum(const TrainConfig& c) { return round_trip_text(c.momentum); }

void adopt_momentum(TrainConfig& c, const std::string& t) {
  double v = -1;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || t.empty() || !(v >= 0 && v < 1))
    throw UsageError("--momentum " + t + ": must be a number from 0 up to (not including) 1");
  c.momentum = v;
}

// A number in [low, high) (or [low, high] when `closed`), else a UsageError naming the option.
double parse_bounded(std::string_view option, const std::string& t, double low, double high, bool closed,
                     const char* range) {
  double v = std::numeric_limits<double>::quiet_NaN();
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  const bool ok =
      ec == std::errc() && end == t.data() + t.size() && !t.empty() && v >= low && (closed ? v <= high : v < high);
  if (!ok) throw UsageError("--" + std::string(option) + " " + t + ": must be " + range);
  return v;
}

// A cosine schedule spans the run's epochs, so under it they are part of the arithmetic.
std::string text_of_decay_epochs(const TrainConfig& c) {
  return c.lr_decay == LrDecay::cosine ? std::to_string(c.epochs) : "none";
}

void adopt_decay_epochs(TrainConfig& c, const std::string& t) {
  if (c.lr_decay == LrDecay::cosine) c.epochs = static_cast<int>(parse_integer("epochs", t, 1, 1'000'000));
}

constexpr long long kMaxSeed = std::numeric_limits<long long>::max();

// clang-format off
const RecipeField kRecipe[] = {
  {"task", "task", "classification (outputs are classes) or regression (outputs are real-valued targets: linear "
   "units, loss ½‖a−t‖²; by default then ReLU hidden units, xavier init, Adam at 0.001, as scikit-learn's "
   "MLPRegressor)",
   [](const TrainConfig& c) { return name_of(c.spec.task); },
   [](TrainConfig& c, const std::string& t) { c.spec.task = parse_choice<Task>(t); }, "classification"},
  {"layers", "layers", "layer sizes, inputs first: the first must be the image size, the last the number of "
   "classes (default: from the data, with --hidden between)",
   [](const TrainConfig& c) { return format_sizes(c.spec.sizes, ','); },
   [](TrainConfig& c, const std::string& t) { c.spec.sizes = parse_layers(t); }},
  {"engine", "engine",
   "parallel: float32, oneTBB chunks, SIMD; scalar: the float64 reference oracle, one example at a time",
   [](const TrainConfig& c) { return name_of(c.engine); },
   [](TrainConfig& c, const std::string& t) { c.engine = parse_choice<EngineKind>(t); }},
  {"seed", "seed", "seed for the initial weights, the split and the shuffles",
   [](const TrainConfig& c) { return std::to_string(c.seed); },
   [](TrainConfig& c, const std::string& t) { c.seed = static_cast<std::uint64_t>(parse_integer("seed", t, 0, kMaxSeed)); }},
  {"preset", "preset", "blog: the post's own arithmetic (raw 0-255 pixels, sigmoid's derivative applied twice, lr 0.1)",
   [](const TrainConfig& c) { return name_of(c.preset); },
   [](TrainConfig& c, const std::string& t) { set_preset(c, parse_choice<Preset>(t)); }},
  {"batch-size", "batch_size", "examples per SGD step",
   [](const TrainConfig& c) { return std::to_string(c.batch_size); },
   [](TrainConfig& c, const std::string& t) { c.batch_size = static_cast<int>(parse_integer("batch-size", t, 1, 1'000'000)); }},
  {"lr", "lr", "learning rate (0.1 with --preset blog)",
   [](const TrainConfig& c) { return round_trip_text(c.lr); },
   [](TrainConfig& c, const std::string& t) { c.lr = parse_positive_real("lr", t); }},
  {"split", "split",
   "seed: all 70,000 images shuffled, 70% train / 10% validation / 20% test; "
   "standard: the 60,000-image file trains (its last --val-size validate), the 10,000-image file tests",
   [](const TrainConfig& c) { return name_of(c.split); },
   [](TrainConfig& c, const std::string& t) { c.split = parse_choice<SplitKind>(t); }},
  {"val-size", "val_size", "validation images for --split standard (0 allowed)",
   [](const TrainConfig& c) { return std::to_string(c.val_size); },
   [](TrainConfig& c, const std::string& t) { c.val_size = static_cast<std::size_t>(parse_integer("val-size", t, 0, 1'000'000'000)); }},
  {"shuffle", "shuffle", "epoch: every epoch trains in its own seeded order; none: in the data's order",
   [](const TrainConfig& c) { return name_of(c.shuffle); },
   [](TrainConfig& c, const std::string& t) { c.shuffle = parse_choice<Shuffle>(t); }, "epoch"},
  {"activation", "activation", "hidden units: sigmoid, tanh or relu",
   [](const TrainConfig& c) { return name_of(c.spec.hidden); },
   [](TrainConfig& c, const std::string& t) { c.spec.hidden = parse_choice<Activation>(t); }},
  {"loss", "loss", "mse: sigmoid outputs (linear for regression), ½‖a−t‖² (the blog's); xent: softmax outputs, "
   "cross-entropy (classification only)",
   [](const TrainConfig& c) { return name_of(c.spec.loss); },
   [](TrainConfig& c, const std::string& t) { c.spec.loss = parse_choice<Loss>(t); }},
  {"init", "init",
   "blog: uniform [-0.5, 0.5), biases 1; xavier: uniform ±√(6/(in+out)); he: uniform ±√(6/in); biases 0 for both",
   [](const TrainConfig& c) { return name_of(c.init); },
   [](TrainConfig& c, const std::string& t) { c.init = parse_choice<Init>(t); }},
  {"momentum", "momentum", "momentum μ in [0, 1): v = μv + g, w -= lr·v", text_of_momentum, adopt_momentum},
  {"momentum-kind", "momentum_kind", "classical (w -= lr·v) or nesterov (w -= lr·(μv + g)), as PyTorch's SGD",
   [](const TrainConfig& c) { return name_of(c.momentum_kind); },
   [](TrainConfig& c, const std::string& t) { c.momentum_kind = parse_choice<MomentumKind>(t); }, "classical"},
  {"optimizer", "optimizer", "sgd, adam or adamw (PyTorch's definitions; adam and adamw keep two moments per weight)",
   [](const TrainConfig& c) { return name_of(c.optimizer); },
   [](TrainConfig& c, const std::string& t) { c.optimizer = parse_choice<Optimizer>(t); }, "sgd"},
  {"beta1", "beta1", "adam, adamw: decay of the first moment, in [0, 1)",
   [](const TrainConfig& c) { return round_trip_text(c.beta1); },
   [](TrainConfig& c, const std::string& t) { c.beta1 = parse_bounded("beta1", t, 0, 1, false, "a number from 0 up to (not including) 1"); },
   "0.9"},
  {"beta2", "beta2", "adam, adamw: decay of the second moment, in [0, 1)",
   [](const TrainConfig& c) { return round_trip_text(c.beta2); },
   [](TrainConfig& c, const std::string& t) { c.beta2 = parse_bounded("beta2", t, 0, 1, false, "a number from 0 up to (not including) 1"); },
   "0.999"},
  {"eps", "eps", "adam, adamw: ε added to the root of the second moment",
   [](const TrainConfig& c) { return round_trip_text(c.eps); },
   [](TrainConfig& c, const std::string& t) { c.eps = parse_positive_real("eps", t); }, "1e-08"},
  {"weight-decay", "weight_decay", "λ ≥ 0 on every weight and bias: sgd and adam add λw to the gradient, adamw "
   "shrinks w by lr·λ·w before its step",
   [](const TrainConfig& c) { return round_trip_text(c.weight_decay); },
   [](TrainConfig& c, const std::string& t) {
     c.weight_decay = parse_bounded("weight-decay", t, 0, 1e6, true, "a number from 0 to 1e6");
   }, "0"},
  {"lr-decay", "lr_decay", "none; after any --warmup-epochs W, epoch e is the schedule's epoch s = e − W of "
   "S = epochs − W; cosine: lr·½(1 + cos(π(s−1)/S)); step: lr·gamma every --step-size of them (PyTorch's StepLR); "
   "invscaling: lr/((s−1)·N + 1)^power_t for N training examples (scikit-learn's); adaptive: lr/5 each time "
   "--early-stop's patience runs out, stopping once it is at most 1e-6 (scikit-learn's)",
   [](const TrainConfig& c) { return name_of(c.lr_decay); },
   [](TrainConfig& c, const std::string& t) { c.lr_decay = parse_choice<LrDecay>(t); }},
  {"step-size", "step_size", "--lr-decay step: epochs between decays",
   [](const TrainConfig& c) { return std::to_string(c.step_size); },
   [](TrainConfig& c, const std::string& t) { c.step_size = static_cast<int>(parse_integer("step-size", t, 1, 1'000'000)); },
   "10"},
  {"gamma", "gamma", "--lr-decay step: the factor in (0, 1] each decay applies",
   [](const TrainConfig& c) { return round_trip_text(c.gamma); },
   [](TrainConfig& c, const std::string& t) {
     c.gamma = parse_positive_real("gamma", t);
     if (c.gamma > 1) throw UsageError("--gamma " + t + ": must be a number in (0, 1]");
   },
   "0.1"},
  {"power-t", "power_t", "--lr-decay invscaling: the exponent, ≥ 0",
   [](const TrainConfig& c) { return round_trip_text(c.power_t); },
   [](TrainConfig& c, const std::string& t) { c.power_t = parse_bounded("power-t", t, 0, 1e3, true, "a number from 0 to 1000"); },
   "0.5"},
  {"warmup-epochs", "warmup_epochs", "epochs of linear warm-up before the schedule: epoch e ≤ N trains at lr·e/(N+1)",
   [](const TrainConfig& c) { return std::to_string(c.warmup_epochs); },
   [](TrainConfig& c, const std::string& t) {
     c.warmup_epochs = static_cast<int>(parse_integer("warmup-epochs", t, 0, 1'000'000));
   }, "0"},
  {"early-stop", "early_stop", "stop after N epochs in a row without a validation gain (0: never)",
   [](const TrainConfig& c) { return std::to_string(c.early_stop); },
   [](TrainConfig& c, const std::string& t) { c.early_stop = static_cast<int>(parse_integer("early-stop", t, 0, 1'000'000)); },
   "0"},
  {"early-stop-on", "early_stop_on", "what --early-stop and --save-best call best: accuracy (validation, highest; "
   "classification's default), loss (validation, lowest; regression's default) or r2 (validation R², highest; "
   "regression only) or train-loss (the epoch's mean training loss, lowest; no validation needed)",
   [](const TrainConfig& c) { return name_of(c.early_stop_on); },
   [](TrainConfig& c, const std::string& t) { c.early_stop_on = parse_choice<StopOn>(t); }, "accuracy"},
  {"early-stop-rule", "early_stop_rule", "when an epoch is a gain: keras (it beats the last gain by more than "
   "--min-delta) or sklearn (it beats the best epoch so far by at least --min-delta; scikit-learn's MLP rule)",
   [](const TrainConfig& c) { return name_of(c.early_stop_rule); },
   [](TrainConfig& c, const std::string& t) { c.early_stop_rule = parse_choice<StopRule>(t); }, "keras"},
  {"min-delta", "min_delta", "a gain must exceed this: percentage points of accuracy, loss, or R²",
   [](const TrainConfig& c) { return round_trip_text(c.min_delta); },
   [](TrainConfig& c, const std::string& t) { c.min_delta = parse_bounded("min-delta", t, 0, 1e6, true, "a number from 0 to 1e6"); },
   "0"},
  {"epochs", "decay_epochs", "", text_of_decay_epochs, adopt_decay_epochs},
};
// clang-format on

std::string contradiction(const RecipeField& f, const std::string& given, const std::string& stored,
                          const std::string& path) {
  const std::string what =
      f.key == "decay_epochs" ? "whose cosine lr decay runs over " + stored + " epochs" : "which has " + stored;
  return "--" + std::string(f.option) + " " + given + " contradicts the checkpoint " + path + ", " + what;
}

}  // namespace

std::span<const RecipeField> recipe_fields() { return kRecipe; }

const RecipeField& recipe_field(std::string_view option) {
  for (const RecipeField& f : kRecipe)
    if (f.option == option) return f;
  throw std::logic_error("no recipe field --" + std::string(option));
}

std::map<std::string, std::string> recipe_metadata(const TrainConfig& cfg) {
  std::map<std::string, std::string> m;
  for (const RecipeField& f : kRecipe) m.emplace(f.key, f.text(cfg));
  return m;
}

void adopt_recipe(TrainConfig& cfg, const std::map<std::string, std::string>& metadata, const std::string& path,
                  bool all_required) {
  // In table order, so a field read later (decay_epochs) sees the ones it depends on.
  for (const RecipeField& f : kRecipe) {
    auto it = metadata.find(std::string(f.key));
    if (it == metadata.end() && f.before.empty()) {
      if (all_required) throw DataError(path + ": checkpoint metadata lacks '" + std::string(f.key) + "'");
      continue;
    }
    // A checkpoint from before the field was trained with its value then.
    const std::string stored = it != metadata.end() ? it->second : std::string(f.before);
    const std::string given = f.text(cfg);
    if (cfg.explicit_options.count(std::string(f.option)) && given != stored)
      throw UsageError(contradiction(f, given, stored, path));
    try {
      f.adopt(cfg, stored);
    } catch (const UsageError& e) {
      throw DataError(path + ": metadata '" + std::string(f.key) + "': " + e.what());
    }
  }
}

void adopt_net_arithmetic(TrainConfig& cfg, const std::map<std::string, std::string>& metadata,
                          const std::string& path) {
  for (const char* option : {"task", "preset", "activation", "loss"}) {
    const RecipeField& f = recipe_field(option);
    auto it = metadata.find(std::string(f.key));
    if (it == metadata.end()) continue;  // a model from another tool: the defaults
    if (cfg.explicit_options.count(option) && f.text(cfg) != it->second)
      throw UsageError("--" + std::string(option) + " " + f.text(cfg) + " contradicts --init-from " + path +
                       ", whose net has " + it->second);
    try {
      f.adopt(cfg, it->second);
    } catch (const UsageError& e) {
      throw DataError(path + ": metadata '" + std::string(f.key) + "': " + e.what());
    }
  }
  apply_preset_lr(cfg);
}

void apply_task_defaults(TrainConfig& cfg) {
  if (!cfg.spec.regression()) return;
  const auto unless_given = [&](const char* option, auto set) {
    if (!cfg.explicit_options.count(option)) set();
  };
  unless_given("activation", [&] { cfg.spec.hidden = Activation::relu; });
  unless_given("init", [&] { cfg.init = Init::xavier; });
  unless_given("optimizer", [&] { cfg.optimizer = Optimizer::adam; });
  unless_given("lr", [&] { cfg.lr = kRegressionLr; });
  unless_given("early-stop-on", [&] { cfg.early_stop_on = StopOn::loss; });
}

void check_task_options(const TrainConfig& cfg) {
  if (cfg.spec.regression()) {
    if (cfg.spec.loss == Loss::xent)
      throw UsageError(
          "--loss xent is a classification's (softmax over classes); a regression's outputs are linear "
          "and its loss is mse, ½‖a−t‖²");
    if (cfg.preset == Preset::blog)
      throw UsageError("--preset blog is the post's MNIST classifier; it does not apply to --task regression");
    if (cfg.early_stop_on == StopOn::accuracy)
      throw UsageError("--early-stop-on accuracy: a regression has no accuracy; use loss or r2");
  } else if (cfg.early_stop_on == StopOn::r2) {
    throw UsageError("--early-stop-on r2 applies to --task regression; a classification judges by accuracy or loss");
  }
}

void check_optimizer_options(const TrainConfig& cfg) {
  const auto given = [&](const char* option) { return cfg.explicit_options.count(option) != 0; };
  for (const char* option : {"momentum", "momentum-kind"})
    if (cfg.optimizer != Optimizer::sgd && given(option))
      throw UsageError(std::string("--") + option + " applies to --optimizer sgd; " + name_of(cfg.optimizer) +
                       " keeps its own moving average of the gradient (--beta1)");
  if (cfg.optimizer == Optimizer::sgd)
    for (const char* option : {"beta1", "beta2", "eps"})
      if (given(option)) throw UsageError(std::string("--") + option + " applies to --optimizer adam or adamw");
}

void set_preset(TrainConfig& cfg, Preset preset) {
  cfg.preset = preset;
  cfg.spec.input_scale = preset == Preset::blog ? 1.0 : kPixelScale;  // the post feeds raw 0–255 pixels
  cfg.spec.blog_derivative = preset == Preset::blog;
}

void apply_preset_lr(TrainConfig& cfg) {
  if (cfg.preset == Preset::blog && !cfg.explicit_options.count("lr")) cfg.lr = kBlogLr;
}

void check_early_stop_options(const TrainConfig& cfg) {
  for (const char* option : {"early-stop-on", "early-stop-rule", "min-delta"})
    if (cfg.explicit_options.count(option) && cfg.early_stop == 0 && cfg.save_best_path.empty() && cfg.resume.empty())
      throw UsageError(std::string("--") + option + " goes with --early-stop or --save-best");
}

void check_schedule(const TrainConfig& cfg) {
  const auto given = [&](const char* option) { return cfg.explicit_options.count(option) != 0; };
  for (const char* option : {"step-size", "gamma"})
    if (given(option) && cfg.lr_decay != LrDecay::step)
      throw UsageError(std::string("--") + option + " applies to --lr-decay step");
  if (given("power-t") && cfg.lr_decay != LrDecay::invscaling)
    throw UsageError("--power-t applies to --lr-decay invscaling");
  if (cfg.lr_decay == LrDecay::adaptive && cfg.early_stop == 0)
    throw UsageError("--lr-decay adaptive cuts the rate when --early-stop's patience runs out; give --early-stop N");
  if (cfg.epochs > 0 && cfg.warmup_epochs >= cfg.epochs)
    throw UsageError("--warmup-epochs " + std::to_string(cfg.warmup_epochs) +
                     " leaves no epochs after the warm-up (--epochs " + std::to_string(cfg.epochs) + ")");
}

}  // namespace ptrain
