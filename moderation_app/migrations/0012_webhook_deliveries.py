"""Webhook deliveries as rows written with their decision (an outbox), and the sweep that retries them.

Decisions requested with async=true and still pending get their delivery row here, so their callback
is still made after the upgrade. The sweep is a django-celery-beat row, like the recovery of lost
decisions (0007): its interval can be changed in the admin, and it is only created when missing.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

TASK_NAME = "Deliver due webhooks"
TASK = "moderation_app.tasks.deliver_due_webhooks"


def create_deliveries_and_schedule(apps, schema_editor):
    Decision = apps.get_model("moderation_app", "Decision")
    WebhookDelivery = apps.get_model("moderation_app", "WebhookDelivery")
    now = timezone.now()
    pending = Decision.objects.filter(status="pending", callback=True).values_list("pk", flat=True)
    WebhookDelivery.objects.bulk_create(WebhookDelivery(decision_id=pk, due_at=now) for pk in pending.iterator())
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task=TASK,
        interval=every_minute,
        queue="webhooks",
        description=(
            "Queues the webhook deliveries that are due: a first attempt whose queuing was lost, and the "
            "retries of failed attempts (WEBHOOK_MAX_ATTEMPTS, with a growing wait between them)."
        ),
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('moderation_app', '0011_case_created_index'),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('decision', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='webhook', serialize=False, to='moderation_app.decision')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed'), ('skipped', 'Skipped')], default='pending', max_length=16)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('due_at', models.DateTimeField(help_text='The next attempt is not made before this.')),
                ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['due_at'], name='webhook_pending_due_idx')],
            },
        ),
        migrations.RunPython(create_deliveries_and_schedule, remove_schedule),
    ]
