"""The periodic sweep that queues again the decisions whose guard task was lost.

A django-celery-beat row, as the training schedule is: the interval can be changed or the sweep
disabled in the admin, and this migration only creates it when it is missing.
"""

from django.db import migrations

TASK_NAME = "Recover lost decisions"
TASK = "moderation_app.tasks.recover_lost_decisions"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task=TASK,
        interval=every_minute,
        queue="default",
        description=(
            "Queues again the decisions still pending after DECISION_RECOVER_AFTER_S while the guard "
            "queue is empty: their task never reached the broker or was dropped by it."
        ),
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("moderation_app", "0006_webhooks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
