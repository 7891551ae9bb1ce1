from __future__ import annotations

import pytest

from common.groups import ATTRIBUTE_LABELS, zh_group


@pytest.mark.parametrize(("label", "words"), [
    ("男 M", "男"), ("女 F", "女"), ("城镇 urban", "城镇"), ("乡村 rural", "乡村"),
    ("阿坝藏族羌族自治州 (自治州 autonomous)", "阿坝藏族羌族自治州（自治州）"), ("成都市", "成都市"),
    ("45-54", "45-54"),
    # a bring-your-own-data group with no Chinese is kept as the user wrote it
    ("Black", "Black"), ("18-24 yrs", "18-24 yrs"),
])
def test_groups_read_in_chinese_and_a_user_s_own_labels_are_kept(label, words):
    assert zh_group(label) == words


def test_every_built_in_audit_attribute_has_words():
    from training.dataset import AUDIT_COLUMNS

    assert set(AUDIT_COLUMNS) <= set(ATTRIBUTE_LABELS)
