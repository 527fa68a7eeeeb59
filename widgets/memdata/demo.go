package memdata

import (
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/beneficiary"
)

// IDs in the demo dataset.
const (
	// DemoBeneficiaryID is the demo beneficiary, Maria Aparecida Souza.
	DemoBeneficiaryID = "ben-0001"
	// DemoConversationID is her current conversation, active with
	// DemoAgentID.
	DemoConversationID = "conv-0003"
	// DemoAgentID is the agent serving DemoConversationID.
	DemoAgentID = "ana"
	// DemoOtherAgentID is an agent who holds none of her conversations.
	DemoOtherAgentID = "bruno"
)

// Demo is a small fictitious world: one beneficiary with two past
// conversations, a current one, two occurrences and a phone call.
type Demo struct {
	Conversations *Conversations
	Directory     *Directory
	Occurrences   *Occurrences
	Events        *Events
	// Subjects and Queues name the IDs used in the conversations.
	Subjects []attendance.Subject
	Queues   []attendance.Queue
}

// NewDemo builds the demo dataset with times relative to now.
func NewDemo(now time.Time) *Demo {
	day := func(n int, h, m int) time.Time {
		y, mo, d := now.AddDate(0, 0, -n).Date()
		return time.Date(y, mo, d, h, m, 0, 0, now.Location())
	}
	d := &Demo{
		Conversations: NewConversations(),
		Subjects: []attendance.Subject{
			{ID: "boletos", Name: "Boletos e pagamentos", QueueID: "financeiro"},
			{ID: "autorizacao", Name: "Autorização de procedimento", QueueID: "assistencial"},
			{ID: "reembolso", Name: "Reembolso", QueueID: "financeiro"},
		},
		Queues: []attendance.Queue{
			{ID: "financeiro", Name: "Financeiro"},
			{ID: "assistencial", Name: "Assistencial"},
		},
	}

	d.Directory = NewDirectory(beneficiary.Beneficiary{
		ID:         DemoBeneficiaryID,
		Name:       "Maria Aparecida Souza",
		BirthDate:  widgets.NewDate(1968, time.August, 14),
		CPF:        "38715492079",
		CardNumber: "0 987 004512368790 1",
		Holder:     true,
		Plan: beneficiary.Plan{
			Code: "ESS-ENF-02", Name: "Essencial Enfermaria", ANSRegistration: "999.999/99-9",
			Contract: "coletivo por adesão", Coverage: "ambulatorial + hospitalar com obstetrícia",
			Accommodation: "enfermaria", Status: "ativo", Since: widgets.NewDate(2019, time.March, 1),
		},
		Contact: beneficiary.Contact{Phone: "(11) 90000-0001", Email: "maria.souza@example.com", City: "São Paulo", State: "SP"},
	})

	sys := func(at time.Time, ev attendance.Event) attendance.Message { return systemMessage(at, ev) }

	// A finalized conversation about an authorization, 40 days ago.
	t1 := day(40, 10, 5)
	_ = d.Conversations.Put(attendance.Conversation{
		ID: "conv-0001", BeneficiaryID: DemoBeneficiaryID, SubjectID: "autorizacao", QueueID: "assistencial",
		Channel: "app", Protocol: "20260100000417", State: attendance.StateFinalized, LastAgentID: "carla",
		ArrivedAt: t1, CreatedAt: t1, UpdatedAt: t1.Add(25 * time.Minute), FinalReason: "resolvido",
	},
		sys(t1, attendance.Event{Type: attendance.EventOpened, To: attendance.StateQueued, QueueID: "assistencial"}),
		sys(t1.Add(3*time.Minute), attendance.Event{Type: attendance.EventOffered, From: attendance.StateQueued, To: attendance.StateOffered, AgentID: "carla"}),
		sys(t1.Add(4*time.Minute), attendance.Event{Type: attendance.EventAccepted, From: attendance.StateOffered, To: attendance.StateActive, AgentID: "carla"}),
		sys(t1.Add(25*time.Minute), attendance.Event{Type: attendance.EventFinalized, From: attendance.StateActive, To: attendance.StateFinalized, Reason: "resolvido", Note: "Guia de autorização enviada pelo app."}),
	)

	// A conversation transferred to the financial queue, 12 days ago.
	t2 := day(12, 15, 40)
	_ = d.Conversations.Put(attendance.Conversation{
		ID: "conv-0002", BeneficiaryID: DemoBeneficiaryID, SubjectID: "reembolso", QueueID: "financeiro",
		Channel: "app", Protocol: "20260200001288", State: attendance.StateFinalized, LastAgentID: "bruno",
		ArrivedAt: t2, CreatedAt: t2, UpdatedAt: t2.Add(50 * time.Minute), FinalReason: "ocorrencia_aberta",
	},
		sys(t2, attendance.Event{Type: attendance.EventOpened, To: attendance.StateQueued, QueueID: "assistencial"}),
		sys(t2.Add(2*time.Minute), attendance.Event{Type: attendance.EventAutoAccepted, From: attendance.StateQueued, To: attendance.StateActive, AgentID: "carla"}),
		sys(t2.Add(10*time.Minute), attendance.Event{Type: attendance.EventTransferred, From: attendance.StateActive, To: attendance.StateQueued, QueueID: "financeiro", Note: "Reembolso é com o financeiro."}),
		sys(t2.Add(14*time.Minute), attendance.Event{Type: attendance.EventAccepted, From: attendance.StateOffered, To: attendance.StateActive, AgentID: "bruno"}),
		sys(t2.Add(50*time.Minute), attendance.Event{Type: attendance.EventFinalized, From: attendance.StateActive, To: attendance.StateFinalized, Reason: "ocorrencia_aberta"}),
	)

	// The current conversation, about bank slips, active with Ana.
	t3 := day(0, 9, 12)
	if t3.After(now) {
		t3 = now.Add(-10 * time.Minute)
	}
	_ = d.Conversations.Put(attendance.Conversation{
		ID: DemoConversationID, BeneficiaryID: DemoBeneficiaryID, SubjectID: "boletos", QueueID: "financeiro",
		Channel: "app", Protocol: "20260300002051", State: attendance.StateActive, AgentID: DemoAgentID, LastAgentID: DemoAgentID,
		ArrivedAt: t3, CreatedAt: t3, UpdatedAt: t3.Add(2 * time.Minute),
	},
		sys(t3, attendance.Event{Type: attendance.EventOpened, To: attendance.StateQueued, QueueID: "financeiro"}),
		sys(t3.Add(time.Minute), attendance.Event{Type: attendance.EventOffered, From: attendance.StateQueued, To: attendance.StateOffered, AgentID: DemoAgentID}),
		sys(t3.Add(2*time.Minute), attendance.Event{Type: attendance.EventAccepted, From: attendance.StateOffered, To: attendance.StateActive, AgentID: DemoAgentID}),
	)

	o1 := day(12, 16, 31)
	d.Occurrences = NewOccurrences(
		beneficiary.Occurrence{
			ID: "occ-7781", BeneficiaryID: DemoBeneficiaryID, Protocol: "OC-2026-007781",
			Category: "Reembolso", Title: "Reembolso de consulta com psicólogo",
			Description: "Beneficiária enviou recibo e pedido médico pelo app.",
			Status:      beneficiary.StatusInProgress, Channel: "chat",
			CreatedAt: o1, UpdatedAt: day(10, 11, 0),
			Comments: []beneficiary.Comment{
				{ID: "c-1", Author: attendance.AgentPrincipal("bruno"), Text: "Documentação completa, encaminhado para análise.", At: day(11, 9, 20)},
			},
			History: []beneficiary.StatusChange{
				{From: beneficiary.StatusOpen, To: beneficiary.StatusInProgress, Author: attendance.AgentPrincipal("bruno"), At: day(10, 11, 0)},
			},
		},
		beneficiary.Occurrence{
			ID: "occ-6120", BeneficiaryID: DemoBeneficiaryID, Protocol: "OC-2026-006120",
			Category: "Cadastro", Title: "Atualização de endereço",
			Status: beneficiary.StatusResolved, Channel: "telefone",
			CreatedAt: day(60, 14, 2), UpdatedAt: day(59, 10, 30),
			History: []beneficiary.StatusChange{
				{From: beneficiary.StatusOpen, To: beneficiary.StatusResolved, Author: attendance.AgentPrincipal("carla"), Note: "Endereço atualizado.", At: day(59, 10, 30)},
			},
		},
	)

	d.Events = NewEvents(
		beneficiary.Event{ID: "call-301", BeneficiaryID: DemoBeneficiaryID, At: day(5, 18, 45), Channel: "telefone", Title: "Ligação para a central: dúvida sobre coparticipação"},
		beneficiary.Event{ID: "push-88", BeneficiaryID: DemoBeneficiaryID, At: day(2, 8, 0), Channel: "app", Title: "Notificação: boleto de março disponível"},
	)
	return d
}
