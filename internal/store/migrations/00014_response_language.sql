-- The language each person answered in (spec.survey.translations): exports and reports record it.

-- +goose Up
ALTER TABLE responses ADD COLUMN language TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE responses DROP COLUMN language;
