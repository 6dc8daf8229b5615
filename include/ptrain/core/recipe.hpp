#pragma once
// The recipe: the fields that decide a run's arithmetic, described once (recipe_fields). That
// table drives the options' help, what a checkpoint stores, what a resume adopts and what
// counts as a contradiction; the rules across fields (optimizer options, the schedule, the
// preset's learning rate) are here too, so the command line and the Python module apply the
// same ones. A new recipe option is a member of TrainConfig, a row in the table (recipe.cpp),
// the engines that implement it, and its tests.
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "ptrain/core/config.hpp"

namespace ptrain {

// One field of the recipe: its option, its model-file metadata key, its value as text (stored,
// compared and shown as the default) and how that text is read back (a UsageError naming the
// option when it is invalid). A field without help is set by another option (decay_epochs by
// --epochs) and is not an option of its own.
struct RecipeField {
  std::string_view option, key, help;
  std::string (*text)(const TrainConfig&);
  void (*adopt)(TrainConfig&, const std::string&);
  // The value a checkpoint written before this field existed had (empty: every one has it).
  std::string_view before = {};
};
std::span<const RecipeField> recipe_fields();
const RecipeField& recipe_field(std::string_view option);

// The recipe as metadata: one entry per field.
std::map<std::string, std::string> recipe_metadata(const TrainConfig& cfg);

// Makes cfg follow the recipe stored in `metadata` (of the file `path`). A field given
// explicitly with another value is a UsageError naming both; a missing key is a DataError when
// `all_required` (a checkpoint), else cfg keeps its value (a model from another tool); an
// invalid stored value is a DataError naming `path`.
void adopt_recipe(TrainConfig& cfg, const std::map<std::string, std::string>& metadata, const std::string& path,
                  bool all_required);

// The fields that are the net's arithmetic rather than its training (activation, loss, preset):
// what --init-from's model brings, as adopt_recipe does for a checkpoint; one given explicitly
// with another value is a UsageError naming both.
void adopt_net_arithmetic(TrainConfig& cfg, const std::map<std::string, std::string>& metadata,
                          const std::string& path);

// --momentum is SGD's; --beta1, --beta2 and --eps are Adam's and AdamW's: one given explicitly
// (cfg.explicit_options) for another optimizer is a UsageError.
void check_optimizer_options(const TrainConfig& cfg);

// A regression's defaults, as scikit-learn's MLPRegressor's, for every one of --activation
// (relu), --init (xavier), --optimizer (adam), --lr (kRegressionLr) and --early-stop-on (loss)
// not given explicitly; nothing for a classification.
void apply_task_defaults(TrainConfig& cfg);
// A UsageError for what a task cannot have: xent, --preset blog or accuracy for a regression,
// r2 for a classification.
void check_task_options(const TrainConfig& cfg);

// Sets a preset's arithmetic on cfg.spec.
void set_preset(TrainConfig& cfg, Preset preset);
// --preset blog's learning rate (kBlogLr) when --lr is not among cfg.explicit_options.
void apply_preset_lr(TrainConfig& cfg);

// --early-stop-on and --min-delta say how early stopping or --save-best judge epochs: one given
// explicitly without either (or a --resume, whose checkpoint brings them) is a UsageError.
void check_early_stop_options(const TrainConfig& cfg);

// A UsageError when the schedule's options do not go together (--step-size without --lr-decay
// step, a warm-up that leaves no epochs).
void check_schedule(const TrainConfig& cfg);

}  // namespace ptrain
