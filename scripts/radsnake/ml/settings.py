"""The settings a fitting job reads from the config, grouped once: which training data
(TrainingData, shared by selection, fitting and validation) and which model search
(ModelSearch, shared by fitting and validation). Rule scripts build them from the rule's
params; the jobs pass them on whole instead of a dozen loose arguments."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from radsnake.ml.modelling import Design, training_data


@dataclass(frozen=True)
class TrainingData:
    """The cases, labels and columns a fit trains on (radsnake.ml.modelling.training_data)."""

    features_csv: str
    split_csv: str
    clinical: list[str] = field(default_factory=list)
    permute: bool = False  # the negative control's permuted training labels
    seed: int = 0
    harmonisation: dict | None = None
    icc_csv: str = ""  # the robustness filter's ICC table, "" without one

    @classmethod
    def of_rule(cls, input, params) -> TrainingData:
        """From a fitting rule's named input (features, split, icc) and params (clinical,
        permute, seed, harmonisation): the rules of rules/selection.smk, models.smk and
        validation.smk name them alike."""
        return cls(
            features_csv=input.features,
            split_csv=input.split,
            clinical=list(params.clinical),
            permute=params.permute,
            seed=params.seed,
            harmonisation=params.harmonisation,
            icc_csv=input.icc[0] if input.icc else "",
        )

    def load(self) -> tuple[Design, pd.DataFrame, np.ndarray]:
        return training_data(self.features_csv, self.split_csv, self.clinical, self.permute, self.seed,
                             icc_csv=self.icc_csv, harmonisation=self.harmonisation)


@dataclass(frozen=True)
class ModelSearch:
    """One model and its tuning: the selection steps before it, its grid and folds."""

    model: str
    steps: list[dict]
    param_grid: dict | None = None
    cv_folds: int = 5
    imbalance: str = "class_weight"
    selection_setting: str = "selection.steps"  # where ``steps`` come from in the config, for messages
