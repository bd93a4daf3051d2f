"""Report layout helpers: one cutflow table with samples as columns; absent objects left out of
the feature distributions."""

from __future__ import annotations

import numpy as np

from hepsift.report.build import cutflow_tables, present_objects


def test_one_cutflow_table_with_samples_as_columns() -> None:
    flows = {
        "ggF": [
            {"cut": "all", "events": 100, "yield": 10.0, "weff_cum": 1.0},
            {"cut": "2 photons", "events": 50, "yield": 5.0, "weff_cum": 0.5},
        ],
        "continuum": [
            {"cut": "all", "events": 1000, "yield": 900.0, "weff_cum": 1.0},
            {"cut": "2 photons", "events": 30, "yield": 27.0, "weff_cum": 0.03},
        ],
        "empty": [],
    }
    (table,) = cutflow_tables(flows)
    assert table.columns == ["cut", "ggF", "continuum"]
    assert [r[0] for r in table.rows] == ["all", "2 photons"]
    assert table.rows[1][1] == "5 (50), 50 %" and table.rows[1][2] == "27 (30), 3 %"
    assert cutflow_tables({}) == []


def test_absent_objects_are_not_values() -> None:
    v = np.array([0.0, 35.0, np.nan, 0.0])
    np.testing.assert_array_equal(present_objects("jet_pt_1", v), [False, True, False, False])
    # an event-level feature keeps its zeros (no jets is a value of jet_n)
    np.testing.assert_array_equal(present_objects("jet_n", v), [True, True, False, True])
