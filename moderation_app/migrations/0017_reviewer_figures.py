"""What the reviewers' figures and the review stats read, kept where they can read it cheaply:
- when a claim was taken, on the item while it is held and on the label it leads to (how long a
  label takes);
- the guard's verdict on each review item, filled in for the items there are: reading it from the
  decisions meant reading that whole table (0.4 s on a million decisions), and decisions are
  immutable, so the copy cannot go stale;
- each label's place on its item (1, 2, 3), filled in from the order the labels were given: pairing
  each second label with the first took a sorted subquery per item;
- an index of the labels by time, which the stats count by period.

The next migration makes the place required. Plain index builds: labels are written by people, so
even a large install has few enough that the builds take about a second, and only label writes wait.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.models import Count, OuterRef, Q, Subquery


def fill(apps: Any, schema_editor: Any) -> None:
    item, decision = apps.get_model("moderation_app", "ReviewItem"), apps.get_model("moderation_app", "Decision")
    item.objects.update(guard_verdict=Subquery(decision.objects.filter(pk=OuterRef("decision_id")).values("verdict")))
    fill_positions(apps, schema_editor)


def fill_positions(apps: Any, schema_editor: Any) -> None:
    """Each label without a place gets its place in the order its item's labels were given (0018
    runs it again, for a label an older web process wrote between the two migrations)."""
    label = apps.get_model("moderation_app", "ReviewLabel")
    given_by_then = Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lte=OuterRef("pk"))
    place = label.objects.filter(given_by_then, item_id=OuterRef("item_id")).values("item_id").annotate(n=Count("pk"))
    label.objects.filter(position__isnull=True).update(position=Subquery(place.values("n")))


class Migration(migrations.Migration):
    dependencies = [("moderation_app", "0016_decision_malformed_index")]

    operations = [
        migrations.AddField(
            model_name="reviewitem",
            name="claimed_at",
            field=models.DateTimeField(blank=True, help_text="When the live claim was taken.", null=True),
        ),
        migrations.AddField(
            model_name="reviewlabel",
            name="claimed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the reviewer claimed the item: the label took them from then until created_at.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="reviewitem",
            name="guard_verdict",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The decision's verdict, kept here (decisions are immutable) so the reviewers' figures need"
                " not read the decisions table; empty if the output was malformed.",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="reviewlabel", name="position", field=models.PositiveSmallIntegerField(null=True)
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="reviewlabel", index=models.Index(fields=["created_at"], name="review_label_created_idx")
        ),
    ]
