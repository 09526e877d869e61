"""The periodic check that starts a training run once enough new labelled cases exist.

It is a django-celery-beat row, so the schedule can be changed or disabled in the admin; this migration
only creates it when it is missing and never overwrites an edited one.
"""

from django.db import migrations

TASK_NAME = "Train on new reviews"
TASK = "training_worker.tasks.train.train_on_new_reviews"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task=TASK,
        interval=every_hour,
        queue="default",
        description="Starts a training run when at least TRAIN_MIN_NEW_CASES labelled cases arrived since the last one.",
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("training_worker", "0002_training_runs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
