"""The answers the benchmarks decode and serve: a small batch and a realistic one.

The small batch is a seed-like batch with no layout (about 0.7 KB); the realistic one
adds a one-page layout of 14 objects (a page, 2 rows, 3 columns, 8 items: about 2.5 KB).
"""

from __future__ import annotations

import json
from typing import Any

SMALL: dict[str, Any] = {
    "id": "a3f47c2e-9d4b-4f1a-8b2e-3c9d7f5a1b2c",
    "created_at": "2024-01-15T09:30:00Z",
    "created_by": "6278cb09062dbb35bc4abebc",
    "datasets": [
        {
            "id": "d9f1e7a4-3c2b-4e5f-9a7d-8b6c4e2f1a0b",
            "total_datapoint_count": 1500,
            "filename": "user_responses_2024-01.csv",
        }
    ],
    "name": "Data Collection Batch",
    "status": "READY",
    "total_task_count": 120,
    "total_instruction_count": 5,
    "workspace_id": "6278acb09062db3b35bcbeb0",
    "schema_version": 1,
    "task_details": {
        "task_name": "Sentiment Analysis Task",
        "task_introduction": "<p>Welcome to the sentiment analysis task. Your goal is to "
        "classify the sentiment of given text samples.</p>",
        "task_steps": "<ol><li>Read the text carefully.</li><li>Choose the sentiment "
        "category that best fits the text.</li><li>Submit your response.</li></ol>",
    },
    "total_task_groups": 3,
}

_PAGE: dict[str, Any] = {
    "id": "page-1",
    "rows": [
        {
            "id": "row-1",
            "columns": [
                {"id": "col-1", "items": [{"type": "dataset_field", "field": "option_a"}]},
                {"id": "col-2", "items": [{"type": "dataset_field", "field": "option_b"}]},
            ],
        },
        {
            "id": "row-2",
            "columns": [
                {
                    "id": "col-3",
                    "items": [
                        {
                            "type": "multiple_choice",
                            "description": "Which is better?",
                            "answer_limit": 1,
                            "disable_dropdown": True,
                            "helper_text": "Pick one",
                            "options": [
                                {"label": "A", "value": "a"},
                                {"label": "B", "value": "b"},
                                {"label": "Neither", "value": "none", "exclusive": True},
                            ],
                        },
                        {
                            "type": "multiple_choice_with_free_text",
                            "description": "Sentiment?",
                            "answer_limit": 1,
                            "options": [{"label": "Positive", "value": "pos", "heading": "Why?"}],
                        },
                        {
                            "type": "free_text",
                            "description": "Explain.",
                            "placeholder_text_input": "Type here",
                            "validation": {"type": "string", "min": 10, "max": 500},
                        },
                        {
                            "type": "free_text_with_unit",
                            "description": "Temperature?",
                            "unit_options": [
                                {
                                    "label": "°C",
                                    "value": "celsius",
                                    "validation": {"type": "number", "min": 30, "max": 45},
                                },
                                {"label": "°F", "value": "fahrenheit"},
                            ],
                            "default_unit": "celsius",
                            "unit_position": "suffix",
                        },
                        {
                            "type": "file_upload",
                            "description": "Upload photos.",
                            "accepted_file_types": [".jpg", ".png"],
                            "max_file_size_mb": 10.5,
                            "min_file_count": 1,
                            "max_file_count": 3,
                        },
                        {
                            "type": "rich_text",
                            "content": "<p>Thanks for taking part.</p>",
                            "content_format": "html",
                        },
                    ],
                }
            ],
        },
    ],
}

# The server gives every item an id (a UUID).
for _row in _PAGE["rows"]:
    for _column in _row["columns"]:
        for _index, _item in enumerate(_column["items"]):
            _item["id"] = f"{_column['id']}-item-{_index}-4f1a-8b2e-3c9d7f5a1b2c"

REALISTIC: dict[str, Any] = {**SMALL, "batch_items": [_PAGE]}


def encoded(data: Any) -> bytes:
    """``data`` as the server sends it (compact JSON, UTF-8)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def listing(count: int, *, layout: bool = False) -> dict[str, Any]:
    """A listing answer of ``count`` batches with distinct ids and names."""
    base = REALISTIC if layout else SMALL
    return {
        "results": [
            {**base, "id": f"{i:08d}-9d4b-4f1a-8b2e-3c9d7f5a1b2c", "name": f"batch-{i}"}
            for i in range(count)
        ]
    }
