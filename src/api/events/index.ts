// events.k8s.io/v1: a view of the core/v1 Events in storage.

export { EVENTS_GROUP, eventFromStorage, eventToStorage, eventsEventDef, eventsView, isViewShaped } from './event.ts';
