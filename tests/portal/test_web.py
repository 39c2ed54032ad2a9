"""What every portal page shares: validation messages land on the form input they belong to."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sentra_tunnel.portal.web import input_errors
from sentra_tunnel.schemas import UserIn


def test_input_errors_fold_item_paths_onto_the_input():
    body = {"username": "ok-name", "password": "long enough", "role": "staff", "shop_ids": [0, 1]}
    with pytest.raises(ValidationError) as info:
        UserIn.model_validate(body)
    assert list(input_errors(info.value)) == ["shop_ids"]
