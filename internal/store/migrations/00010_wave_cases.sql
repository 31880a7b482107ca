-- A wave's follow-up cases, counted for its summary (and its report) at every poll: found by
-- the wave, not by scanning every case of every FollowUp.

-- +goose Up
CREATE INDEX followup_cases_wave ON followup_cases (campaign_uid, wave_id);

-- +goose Down
DROP INDEX followup_cases_wave;
