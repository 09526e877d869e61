"""Every label has its place on its item (filled in by 0017), and one label holds each place."""

from __future__ import annotations

import importlib

from django.db import migrations, models

# A label written by a web process older than 0017 after 0017 ran has no place yet.
fill_positions = importlib.import_module("moderation_app.migrations.0017_reviewer_figures").fill_positions


class Migration(migrations.Migration):
    dependencies = [("moderation_app", "0017_reviewer_figures")]

    operations = [
        migrations.RunPython(fill_positions, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="reviewlabel",
            name="position",
            field=models.PositiveSmallIntegerField(
                help_text="1 for the item's first label, 2 for its second (independent) one, 3 for the label that"
                " settled their disagreement."
            ),
        ),
        migrations.AddConstraint(
            model_name="reviewlabel",
            constraint=models.UniqueConstraint(fields=("item", "position"), name="review_label_one_per_position"),
        ),
    ]
