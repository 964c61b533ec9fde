# A lottery event's orders are registrations for headcount's draw: their id, kept with the row.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pretix_headcount', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='headcounthold',
            name='registration_id',
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
    ]
