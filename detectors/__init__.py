"""The detector service: schedules rule runs; the detection logic lives in `socwb.detection`."""
