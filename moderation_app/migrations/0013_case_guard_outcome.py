"""What the guard said about each review's case, kept on the case; filled in for existing review cases."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_from_decisions(apps, schema_editor):
    Case = apps.get_model("moderation_app", "Case")
    Decision = apps.get_model("moderation_app", "Decision")
    ReviewItem = apps.get_model("moderation_app", "ReviewItem")
    decision = Decision.objects.filter(pk=OuterRef("decision_id"))
    Case.objects.filter(source="review", decision__isnull=False).update(
        guard_verdict=Subquery(decision.values("verdict")[:1]),
        guard_model_id=Subquery(decision.values("model_version_id")[:1]),
        review_reason=Subquery(ReviewItem.objects.filter(decision_id=OuterRef("decision_id")).values("reason")[:1]),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('moderation_app', '0012_webhook_deliveries'),
        ('training_worker', '0003_training_schedule'),
    ]

    operations = [
        migrations.AddField(
            model_name='case',
            name='guard_model',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='training_worker.modelversion'),
        ),
        migrations.AddField(
            model_name='case',
            name='guard_verdict',
            field=models.CharField(blank=True, help_text="The guard's verdict; empty if malformed.", max_length=16),
        ),
        migrations.AddField(
            model_name='case',
            name='review_reason',
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.RunPython(fill_from_decisions, migrations.RunPython.noop),
    ]
