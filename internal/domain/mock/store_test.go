package mock_test

import (
	"context"
	"strings"
	"testing"

	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
)

func TestStoreCallsItsFunction(t *testing.T) {
	t.Parallel()
	var gotMerchant, gotID string
	s := &mock.Store{GetInstallationFn: func(_ context.Context, merchantID, id string) (*domain.Installation, error) {
		gotMerchant, gotID = merchantID, id
		return &domain.Installation{ID: id, MerchantID: merchantID}, nil
	}}
	in, err := s.GetInstallation(context.Background(), "mer_1", "ins_1")
	if err != nil || in.ID != "ins_1" || gotMerchant != "mer_1" || gotID != "ins_1" {
		t.Fatalf("GetInstallation = %+v, %v; the function saw (%q, %q)", in, err, gotMerchant, gotID)
	}
}

func TestStorePanicsNamingAnUnsetMethod(t *testing.T) {
	t.Parallel()
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "LookupInstallationFn") {
			t.Fatalf("panic %q does not name LookupInstallationFn", msg)
		}
	}()
	_, _ = (&mock.Store{}).LookupInstallation(context.Background(), "ins_1")
	t.Fatal("an unset method did not panic")
}
