"""Job of rules/demo.smk: one synthetic demo case (radsnake.imaging.demo makes it)."""

from __future__ import annotations

from radsnake.imaging.demo import make_case


def demo_case(case_id: str, label: int, center: str, seed: int, image_path: str, mask_path: str) -> None:
    make_case(case_id=case_id, label=label, center=center, seed=seed, image_path=image_path, mask_path=mask_path)
