"""followkit.constraints.taxonomy: TRACE's 5 types and 26 dimensions, looked up by key, name or label."""

from __future__ import annotations

from collections import Counter

import pytest

from followkit.constraints.taxonomy import BY_LABEL_ZH, DIMENSIONS, TYPES, dimension


def test_twenty_six_dimensions_in_five_types():
    assert len(DIMENSIONS) == 26
    assert len(BY_LABEL_ZH) == 26  # Chinese labels are unique too
    per_type = Counter(d.type for d in DIMENSIONS.values())
    assert per_type == {"content": 6, "situation": 7, "style": 4, "format": 7, "example": 2}
    assert set(per_type) == set(TYPES)


@pytest.mark.parametrize("query", ["role_playing", "Role-Playing", "role-playing", "角色扮演约束"])
def test_dimension_by_key_name_or_label(query: str):
    d = dimension(query)
    assert (d.key, d.type, d.label_zh) == ("role_playing", "situation", "角色扮演约束")


def test_unknown_dimension_names_the_known_keys():
    with pytest.raises(KeyError, match="unknown TRACE dimension 'colour'.*theme, exclusion"):
        dimension("colour")
