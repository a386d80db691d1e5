// A network file that includes the training stage (the checker must refuse it).
#include "train/trainer.h"
