import { html } from 'htm/preact'
import { useEffect, useRef } from 'preact/hooks'

export function LifecycleBadge(props: { state: string }) {
  return html`<span class=${`badge lifecycle-${props.state.toLowerCase()}`}>${props.state}</span>`
}

export function StateBadge(props: { state: string }) {
  return html`<span class=${`badge state-${props.state.toLowerCase()}`}>${props.state}</span>`
}

/** A modal dialog (the native <dialog>, so focus and Escape behave), open while rendered. */
export function Dialog(props: { title: string; onClose: () => void; children: any }) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const dialog = ref.current!
    dialog.showModal()
    const onCancel = () => props.onClose()
    dialog.addEventListener('close', onCancel)
    return () => dialog.removeEventListener('close', onCancel)
  }, [])
  return html`<dialog ref=${ref} aria-labelledby="dialog-title">
    <h2 id="dialog-title">${props.title}</h2>
    ${props.children}
  </dialog>`
}

export function Problem(props: { text: string }) {
  return props.text ? html`<p class="field-error" role="alert">${props.text}</p>` : null
}

export function formatTime(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleString() : ''
}
